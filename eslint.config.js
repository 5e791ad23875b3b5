import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'deploy/**/generated/**', '.cache/**', '.tmp-*/**', '.devnet/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/node/**', '../node/*', '../../node/*'], message: 'nothing imports node/: dependency direction is node/ -> protocol/, snapshot/' }] }],
    },
  },
  {
    files: ['node/**', 'test/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
)
