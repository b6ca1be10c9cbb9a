/// <reference types="node" />
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { snapshotBuffer, type BufferStorage, type PendingInteraction } from './index';

/**
 * Keeps the buffer in a file (Node): written whole to a temporary file, flushed to disk and renamed
 * over the old one, so a crash leaves either the old buffer or the new one, never half of one. One
 * process writes it (see snapshotBuffer).
 */
export function fileBuffer(path: string): BufferStorage {
  return snapshotBuffer(
    () => {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as PendingInteraction[];
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    },
    (items) => {
      const temporary = `${path}.tmp`;
      const fd = openSync(temporary, 'w');
      try {
        writeSync(fd, JSON.stringify(items));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, path);
    },
  );
}
