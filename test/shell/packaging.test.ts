/**
 * Packaging, checked without Electron's binary (electron-builder cannot download it
 * here): package.json's "build" keeps native addons and worker scripts out of the asar,
 * the engine finds its workers from inside an asar, and the files the deb installs (the
 * launcher, the systemd unit, the polkit action and rule, the desktop entry, the icons)
 * are valid and agree with the configuration. Real tools judge them: systemd-analyze,
 * xmllint, desktop-file-validate, bash -n.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInNewContext } from 'node:vm';
import { minimatch } from 'minimatch';
import { describe, expect, it } from 'vitest';
import { asarUnpackedPath, builtWorkerScript } from '../../electron/engine/worker-script.js';
import { INSTALLED_CLI, SERVICE_UNIT } from '../../electron/shell/service-starter.js';
import { trayIconPath } from '../../electron/shell/status-tray.js';
import { repoRoot } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  main: string;
  desktopName: string;
  dependencies: Record<string, string>;
  build: {
    productName: string;
    files: string[];
    asar: boolean;
    asarUnpack: string[];
    extraResources: Array<{ from: string; to: string }>;
    linux: { executableName: string; icon: string; category: string; description: string; target: string[]; desktop: { entry: Record<string, string> } };
    deb: { afterInstall: string; afterRemove: string };
  };
};
const build = pkg.build;
const linuxFiles = join(repoRoot, 'resources/linux');

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Whether electron-builder would unpack the file at this path (relative to the app root). */
const unpacked = (path: string) => build.asarUnpack.some((g) => minimatch(path, g, { dot: true }));

function run(command: string, args: string[]) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${command} is missing (${r.error.message}); .ci/run installs it`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('package.json build: what stays out of the asar', () => {
  it('unpacks every native addon among the dependencies', () => {
    const native = Object.keys(pkg.dependencies).filter((dep) => {
      const dir = join(repoRoot, 'node_modules', dep);
      return existsSync(join(dir, 'binding.gyp')) || walk(dir).some((f) => f.endsWith('.node'));
    });
    expect(native).toEqual(expect.arrayContaining(['better-sqlite3', 'zstd-napi', 'drivelist']));
    for (const dep of native) expect(unpacked(`node_modules/${dep}/build/Release/addon.node`), dep).toBe(true);
    // @node-rs/xxhash loads a per-platform package that holds its .node file.
    expect(unpacked('node_modules/@node-rs/xxhash-linux-x64-gnu/xxhash.linux-x64-gnu.node')).toBe(true);
  });

  it('unpacks every worker script the engine starts, and nothing else of dist/', () => {
    const named = walk(join(repoRoot, 'electron'))
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/builtWorkerScript\(import\.meta\.url, '([^']+)'\)/g)].map((m) => join(relative(repoRoot, f), '..', m[1]!)));
    expect(named.length).toBeGreaterThanOrEqual(3);
    for (const script of named) {
      const built = join('dist', script);
      expect(existsSync(join(repoRoot, built)), `${built} (run npm run build:node)`).toBe(true);
      expect(unpacked(built), built).toBe(true);
    }
    const built = walk(join(repoRoot, 'dist/electron')).map((f) => relative(repoRoot, f));
    expect(built.filter(unpacked).sort()).toEqual(named.map((s) => join('dist', s)).sort());
  });

  it('packs the built app, the CLI and the icons; ships the service files beside it', () => {
    expect(build.asar).toBe(true);
    expect(pkg.main).toBe('dist/electron/main.js');
    const packed = (p: string) => build.files.filter((g) => !g.startsWith('!')).some((g) => minimatch(p, g)) && !build.files.filter((g) => g.startsWith('!')).some((g) => minimatch(p, g.slice(1)));
    for (const p of ['dist/electron/main.js', 'dist/electron/preload.cjs', 'dist/renderer/index.html', 'bin/chronodisk.js', 'resources/icons/tray-paused.png', 'package.json']) expect(packed(p), p).toBe(true);
    expect(packed('dist/test/bench/run.js')).toBe(false);
    expect(build.extraResources).toContainEqual({ from: 'resources/linux', to: 'linux' });
    expect(build.linux.target).toEqual(['AppImage', 'deb']);
  });
});

describe('worker scripts from inside an asar', () => {
  it('maps a path in an archive to its unpacked twin', () => {
    expect(asarUnpackedPath('/opt/Chronodisk/resources/app.asar/dist/electron/engine/store/decode-worker.js')).toBe('/opt/Chronodisk/resources/app.asar.unpacked/dist/electron/engine/store/decode-worker.js');
    expect(asarUnpackedPath('/home/me/chronodisk/dist/electron/engine/store/decode-worker.js')).toBeUndefined();
    expect(asarUnpackedPath('/srv/my.asar.d/x.js')).toBeUndefined();
  });

  it('finds a worker by its path in the archive when electron-builder unpacked it', () => {
    const root = mkdtempSync(join(tmpdir(), 'asar-'));
    try {
      const resources = join(root, 'opt/Chronodisk/resources');
      const module = pathToFileURL(join(resources, 'app.asar/dist/electron/engine/store/encoder-pool.js')).href;
      // Plain Node cannot read inside app.asar, and nothing is unpacked yet: not found.
      expect(builtWorkerScript(module, 'record-encoder-worker.js')).toBeUndefined();
      const twin = join(resources, 'app.asar.unpacked/dist/electron/engine/store/record-encoder-worker.js');
      mkdirSync(join(twin, '..'), { recursive: true });
      writeFileSync(twin, '// built worker\n');
      // The path stays in the archive, where the worker's own imports resolve.
      expect(builtWorkerScript(module, 'record-encoder-worker.js')?.href).toBe(pathToFileURL(join(resources, 'app.asar/dist/electron/engine/store/record-encoder-worker.js')).href);
      expect(builtWorkerScript(module, 'decode-worker.js')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('what the deb installs', () => {
  it('the launcher runs the binary build.linux.executableName names, as Node, on the CLI in the asar', () => {
    const launcher = readFileSync(join(linuxFiles, 'chronodisk'), 'utf8');
    expect(launcher).toContain(`/${build.linux.executableName}"`);
    expect(launcher).toContain('ELECTRON_RUN_AS_NODE=1 exec');
    expect(launcher).toContain('app.asar/bin/chronodisk.js');
    expect(run('sh', ['-n', join(linuxFiles, 'chronodisk')]).status).toBe(0);
  });

  it('the after-install and after-remove scripts are bash, use only macros electron-builder defines, and install what the service needs', () => {
    for (const script of [build.deb.afterInstall, build.deb.afterRemove]) {
      const text = readFileSync(join(repoRoot, script), 'utf8');
      const macros = [...text.matchAll(/\$\{([a-zA-Z]+)\}/g)].map((m) => m[1]!);
      // electron-builder's writeConfigFile throws on any other ${name}.
      for (const m of macros) expect(['executable', 'sanitizedProductName', 'productFilename'], `${script}: \${${m}}`).toContain(m);
      expect(run('bash', ['-n', join(repoRoot, script)]).status).toBe(0);
    }
    const install = readFileSync(join(repoRoot, build.deb.afterInstall), 'utf8');
    for (const f of readdirSync(linuxFiles).filter((n) => n !== 'chronodisk' && n !== 'chronodisk.desktop')) expect(install, f).toContain(`$FILES/${f}`);
    expect(install).toContain(`ln -sf "$FILES/chronodisk" ${INSTALLED_CLI}`);
    expect(install).toContain(`systemctl enable ${SERVICE_UNIT}`);
  });

  it('the systemd unit runs `chronodisk service` and systemd-analyze accepts every line of it', () => {
    const unit = readFileSync(join(linuxFiles, SERVICE_UNIT), 'utf8');
    expect(unit).toMatch(new RegExp(`^ExecStart=${INSTALLED_CLI} service --group chronodisk$`, 'm'));
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    for (const key of ['NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectKernelModules=yes', 'IPAddressDeny=any', 'RestrictNamespaces=yes', 'CapabilityBoundingSet=']) expect(unit).toContain(key);
    const dir = mkdtempSync(join(tmpdir(), 'unit-'));
    try {
      // verify insists that ExecStart's program exists; the package is not installed here.
      writeFileSync(join(dir, SERVICE_UNIT), unit.replace(`ExecStart=${INSTALLED_CLI}`, 'ExecStart=/bin/true'));
      const r = run('systemd-analyze', ['verify', '--man=no', join(dir, SERVICE_UNIT)]);
      expect(r.out).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the polkit action lets pkexec run `chronodisk service` after an administrator password', () => {
    const policy = join(linuxFiles, 'dev.chronodisk.service.policy');
    const xpath = (q: string) => run('xmllint', ['--xpath', q, policy]).out.trim();
    expect(run('xmllint', ['--noout', policy]).status).toBe(0);
    expect(xpath('string(//action/annotate[@key="org.freedesktop.policykit.exec.path"])')).toBe(INSTALLED_CLI);
    expect(xpath('string(//action/annotate[@key="org.freedesktop.policykit.exec.argv1"])')).toBe('service');
    expect(xpath('string(//action/defaults/allow_active)')).toBe('auth_admin_keep');
    expect(xpath('string(//action/defaults/allow_any)')).toBe('auth_admin');
  });

  it("the polkit rule decides `systemctl start chronodisk.service` and nothing else (run in a stand-in for polkit's JS engine)", () => {
    const source = readFileSync(join(linuxFiles, '50-chronodisk.rules'), 'utf8');
    const rules: Array<(a: unknown, s: unknown) => string> = [];
    const Result = { YES: 'yes', NO: 'no', AUTH_ADMIN_KEEP: 'auth_admin_keep', NOT_HANDLED: 'not_handled' };
    runInNewContext(source, { polkit: { Result, addRule: (f: (a: unknown, s: unknown) => string) => rules.push(f) } });
    expect(rules).toHaveLength(1);
    const decide = (vars: Record<string, string>, subject: { groups: string[]; local: boolean; active: boolean }, id = 'org.freedesktop.systemd1.manage-units') =>
      rules[0]!({ id, lookup: (k: string) => vars[k] }, { ...subject, isInGroup: (g: string) => subject.groups.includes(g) });
    const person = { groups: ['users'], local: true, active: true };
    expect(decide({ unit: SERVICE_UNIT, verb: 'start' }, { ...person, groups: ['chronodisk'] })).toBe('yes');
    expect(decide({ unit: SERVICE_UNIT, verb: 'start' }, person)).toBe('auth_admin_keep');
    expect(decide({ unit: SERVICE_UNIT, verb: 'start' }, { ...person, local: false })).toBe('not_handled');
    expect(decide({ unit: SERVICE_UNIT, verb: 'stop' }, { ...person, groups: ['chronodisk'] })).toBe('not_handled');
    expect(decide({ unit: 'ssh.service', verb: 'start' }, { ...person, groups: ['chronodisk'] })).toBe('not_handled');
    expect(decide({ unit: SERVICE_UNIT, verb: 'start' }, person, 'org.freedesktop.login1.reboot')).toBe('not_handled');
  });

  it('the desktop entry is valid and says what the generated one says', () => {
    const file = join(linuxFiles, 'chronodisk.desktop');
    const r = run('desktop-file-validate', [file]);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
    const entry = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    // electron-builder writes the deb's entry from these settings (LinuxTargetHelper.computeDesktopEntry).
    expect(entry.Name).toBe(build.productName);
    expect(entry.Exec).toBe(`${build.linux.executableName} %U`);
    expect(entry.Icon).toBe(build.linux.executableName);
    expect(entry.Comment).toBe(build.linux.description);
    expect(entry.Categories).toBe(`${build.linux.category};`);
    expect(entry.StartupWMClass).toBe(pkg.desktopName.replace(/\.desktop$/, ''));
    for (const [k, v] of Object.entries(build.linux.desktop.entry)) expect(entry[k], k).toBe(v);
  });

  it('has the app icon at every size and a tray icon for every capture state, PNGs of the sizes they are named', () => {
    const size = (file: string) => {
      const b = readFileSync(file);
      expect(b.subarray(1, 4).toString('latin1'), file).toBe('PNG');
      return [b.readUInt32BE(16), b.readUInt32BE(20)];
    };
    for (const n of [16, 24, 32, 48, 64, 128, 256, 512]) expect(size(join(repoRoot, build.linux.icon, `${n}x${n}.png`))).toEqual([n, n]);
    const icons = join(repoRoot, 'resources/icons');
    for (const state of ['capturing', 'paused', 'idle', 'not-connected'] as const) {
      expect(size(trayIconPath(icons, state))).toEqual([32, 32]);
      expect(size(trayIconPath(icons, state).replace('.png', '@2x.png'))).toEqual([64, 64]);
    }
    expect(size(join(icons, 'chronodisk.png'))).toEqual([256, 256]);
  });
});
