// Types of documents.js for the TypeScript that imports it (the page itself
// loads the .js file as is).
export declare const RUNS_SHOWN: number;
export declare const MATCH_RATES_SHOWN: number;
export declare const PAGE_SIZE: number;
export declare const COUNTS: string;
export declare const RUN_FIELDS: string;
export declare const SYNC_SUMMARY: string;
export declare const VIEWER_QUERY: string;
export declare const SYNCS_QUERY: string;
export declare const SYNC_QUERY: string;
export declare const RUN_NOW_MUTATION: string;
export declare const PROGRESS_SUBSCRIPTION: string;
export declare const FINISHED_SUBSCRIPTION: string;
export declare const MATCH_RATE_SUBSCRIPTION: string;
