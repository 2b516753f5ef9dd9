import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment only in src/platform/config.ts' }],
    },
  },
  { files: ['src/platform/config.ts', 'test/**', 'bench/**'], rules: { 'no-restricted-properties': 'off' } },
  // Tests read socket acks and JSON bodies loosely; the assertions are the type check there.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
