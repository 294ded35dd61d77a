// Typed documents for the SDK and partners: every operation in
// schema/operations/*.graphql becomes a typed document, and the persisted
// documents manifest (hash → operation) is what the server can load.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['schema/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'src/sdk/generated/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' },
      },
      config: {
        // NodeNext resolution: relative imports need their .js extension.
        emitLegacyCommonJSImports: false,
        importExtension: '.js',
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
