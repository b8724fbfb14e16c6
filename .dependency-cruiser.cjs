/**
 * Layering: renderer → shared ← electron/service → electron/engine.
 * Only the Electron shell (electron/main.ts, electron/preload.cts, electron/shell/) imports
 * `electron` at run time. test/layering.test.ts proves each rule fires on a fixture.
 */
// preload is CommonJS (.cts): a sandboxed preload cannot be an ES module.
const shell = '^electron/(main\\.ts|preload\\.cts)$|^electron/shell/';
module.exports = {
  forbidden: [
    {
      name: 'shared-is-pure',
      comment: 'shared/ is the contract: nothing of ours, no node built-ins, no DOM or electron; only zod.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { pathNot: ['^shared/', '^node_modules/zod/'] },
    },
    {
      name: 'renderer-only-shared',
      comment: 'renderer/ talks to the service through the contract; it never imports electron/ code, node or native modules.',
      severity: 'error',
      from: { path: '^renderer/', pathNot: '^renderer/vite\\.config\\.ts$' },
      to: { path: ['^electron/', '^node_modules/(better-sqlite3|electron|drivelist|zstd-napi|@node-rs)/'] },
    },
    {
      name: 'renderer-no-node-builtins',
      severity: 'error',
      comment: 'The renderer runs in the browser; only its Vite config runs under node.',
      from: { path: '^renderer/', pathNot: '^renderer/vite\\.config\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'engine-stands-alone',
      comment: 'electron/engine/ never imports the service, the CLI, the shell, react or electron.',
      severity: 'error',
      from: { path: '^electron/engine/' },
      to: { path: ['^electron/(service|shell|cli)/', '^electron/(cli|main)\\.ts$', '^electron/preload\\.cts$', '^node_modules/(react|react-dom|electron)/', '^renderer/'] },
    },
    {
      name: 'service-no-ui',
      severity: 'error',
      from: { path: '^electron/service/' },
      to: { path: ['^renderer/', '^node_modules/(react|react-dom)/', '^electron/(shell|cli)/', '^electron/(cli|main)\\.ts$', '^electron/preload\\.cts$'] },
    },
    {
      name: 'shell-no-engine',
      comment: 'The Electron shell reaches the engine only through the service (its socket client); it never imports engine internals.',
      severity: 'error',
      from: { path: shell },
      to: { path: ['^electron/engine/', '^electron/cli/', '^electron/cli\\.ts$'] },
    },
    {
      name: 'electron-only-in-shell',
      comment: 'Runtime imports of electron only in the shell; `import type` is fine elsewhere.',
      severity: 'error',
      from: { pathNot: shell },
      to: { path: '^node_modules/electron/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test/fixtures/layering/.*/node_modules)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
