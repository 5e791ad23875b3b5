import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'deploy/**/generated/**', '.cache/**', '.tmp-*/**', '.devnet/**'] },
  ...tseslint.configs.recommended,
  {
    // type-aware: a promise nobody awaits must be explicit (`void` after a `.catch` that logs), and an
    // async function is never handed to an API that ignores the promise it returns
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['node/cli/bin.js', 'eslint.config.js'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/node/**', '../node/*', '../../node/*'], message: 'nothing imports node/: dependency direction is node/ -> protocol/, snapshot/' }] }],
    },
  },
  {
    files: ['node/**', 'test/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
)
