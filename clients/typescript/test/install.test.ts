import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const npm = (cwd: string, ...args: string[]) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, encoding: 'utf8', stdio: 'pipe' });

describe('the client package', () => {
  test('installs into an app from a clone as its README says: built on install, then required', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'client-install-'));
    try {
      // The package as a fresh clone has it: no dist/, no node_modules.
      const pkg = path.join(dir, 'client');
      for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'README.md']) {
        cpSync(path.join(__dirname, '..', file), path.join(pkg, file), { recursive: true });
      }
      npm(pkg, 'install');
      const app = path.join(dir, 'app');
      cpSync(path.join(pkg, 'README.md'), path.join(app, 'README.md'));
      writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      npm(app, 'install', pkg);
      const loaded = execFileSync(
        process.execPath,
        [
          '-e',
          "const c = require('@interaction-tracking/client'); const f = require('@interaction-tracking/client/file-storage'); console.log(typeof c.createClient, typeof f.fileBuffer)",
        ],
        { cwd: app, encoding: 'utf8' },
      );
      expect(loaded.trim()).toBe('function function');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
