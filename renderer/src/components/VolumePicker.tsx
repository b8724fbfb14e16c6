/** Which filesystem of the disk to browse, when it has more than one. */
import { useId } from 'react';
import type { Volume } from '../../../shared/contract.js';
import { formatBytes } from '../../../shared/units.js';
import { useBrowserStore } from '../stores/browser-store.js';

export function volumeName(v: Volume): string {
  const where = v.partition === 0 ? 'Whole disk' : `Partition ${v.partition}`;
  return `${v.label ? `${v.label} — ` : ''}${where} (${v.fsType}, ${formatBytes(v.size)})`;
}

export function VolumePicker() {
  const volumes = useBrowserStore((s) => s.volumes);
  const volume = useBrowserStore((s) => s.volume);
  const setVolume = useBrowserStore((s) => s.setVolume);
  const id = useId();
  if (volumes.length < 2) return null;
  return (
    <div className="volume-picker">
      <label htmlFor={id}>Volume</label>
      <select id={id} value={volume} onChange={(e) => void setVolume(e.target.value)}>
        {volumes.map((v) => (
          <option key={v.address} value={v.address} disabled={!v.browsable}>
            {volumeName(v)}
            {v.browsable ? '' : ' — cannot be browsed'}
          </option>
        ))}
      </select>
    </div>
  );
}
