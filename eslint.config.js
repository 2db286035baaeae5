// Type-aware linting: typescript-eslint's recommended type-checked rules, no floating promises.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "docs/", "node_modules/", "runinfo/", "**/*.cjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["test/**/*.ts", "examples/**/*.ts", "benchmarks/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
      // Shell apps build command lines from Files (their toString is the path), as users do.
      "@typescript-eslint/restrict-template-expressions": ["error", { allow: [{ name: "File", from: "file" }] }],
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["eslint.config.js"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // the dashboard's page: plain browser modules, not part of the TypeScript project
    files: ["lib/dashboard/static/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { ...globals.browser } },
  },
);
