// What every phase gets from the orchestrator.
import type { RssSampler } from './rss';
import type { Settings } from './settings';

export interface Context {
  settings: Settings;
  rss: RssSampler;
  log(message: string): void;
}
