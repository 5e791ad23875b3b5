import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'deploy/**/generated/**', '.cache/**', '.tmp-*/**', '.devnet/**'] },
  ...tseslint.configs.recommended,
  {
    // type-aware: a promise nobody awaits must be explicit (`void` after a `.catch` that logs), and an
    // async function is never handed to an API that ignores the promise it returns
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['node/cli/bin.js', 'eslint.config.js', 'test/fixtures/*/*.js'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/node/**', '../node/*', '../../node/*'], message: 'nothing imports node/: dependency direction is node/ -> protocol/, snapshot/' }] }],
    },
  },
  {
    // runtime code fires and forgets only through node/util/background.ts (or a .catch that logs): a bare
    // `void promise` would drop its failure silently; tests may `void` a promise they deliberately ignore
    files: ['node/**', 'protocol/**', 'snapshot/**'],
    rules: { '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }] },
  },
  {
    files: ['node/**', 'test/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // the explorer page: plain browser ES modules served as they are (no TypeScript project to type-check against)
    files: ['node/http/explorer/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
)
