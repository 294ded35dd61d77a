// Every ad platform's fake vendor server, for tests that drive them all the
// same way (one-click audiences): the connector type and how to start its fake.
import type { FakePlatform } from './fake-vendor.js';
import { startMetaFake } from './fake-meta.js';
import { startGoogleAdsFake } from './fake-google-ads.js';
import { startLinkedInFake } from './fake-linkedin.js';
import { startMicrosoftAdsFake } from './fake-microsoft-ads.js';
import { startTikTokFake } from './fake-tiktok.js';
import { startRedditFake } from './fake-reddit.js';
import { startSnapchatFake } from './fake-snapchat.js';
import { startPinterestFake } from './fake-pinterest.js';
import { startXFake } from './fake-x.js';

export interface AdPlatformFake {
  type: string;
  start: () => Promise<FakePlatform>;
  /**
   * The e-mail as the platform asks for it before hashing, restated here from
   * the vendor's rule (destinations.md), independently of the connector.
   */
  email: (raw: string) => string;
}

const lower = (raw: string) => raw.trim().toLowerCase();
const splitAt = (email: string) => {
  const at = email.lastIndexOf('@');
  return [email.slice(0, at), email.slice(at + 1)] as const;
};

export const AD_PLATFORM_FAKES: AdPlatformFake[] = [
  { type: 'meta', start: () => startMetaFake(), email: lower },
  // Gmail addresses lose dots and "+tags"; others are only lower-cased (Data Manager formatting guide).
  {
    type: 'google_ads',
    start: () => startGoogleAdsFake(),
    email: (raw) => {
      const [local, domain] = splitAt(lower(raw));
      return ['gmail.com', 'googlemail.com'].includes(domain) ? `${local.split('+')[0]!.replace(/\./g, '')}@${domain}` : `${local}@${domain}`;
    },
  },
  { type: 'linkedin', start: () => startLinkedInFake(), email: lower },
  { type: 'microsoft_ads', start: () => startMicrosoftAdsFake(), email: lower },
  // TikTok help centre: no "+tag"; Segment's connector also drops the dots of the local part.
  {
    type: 'tiktok',
    start: () => startTikTokFake(),
    email: (raw) => {
      const [local, domain] = splitAt(lower(raw));
      return `${local.split('+')[0]!.replace(/\./g, '')}@${domain}`;
    },
  },
  // Reddit: no "+tag", and only a-z and 0-9 before the @.
  {
    type: 'reddit',
    start: () => startRedditFake(),
    email: (raw) => {
      const [local, domain] = splitAt(lower(raw));
      return `${local.split('+')[0]!.replace(/[^a-z0-9]/g, '')}@${domain}`;
    },
  },
  { type: 'snapchat', start: () => startSnapchatFake(), email: lower },
  { type: 'pinterest', start: () => startPinterestFake(), email: lower },
  { type: 'x', start: () => startXFake(), email: lower },
];
