// ESLint for the browser player (webapp/player.js) and its Node tests (tests/js/).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["webapp/**/*.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.browser, Plotly: "readonly" } },
    rules: { eqeqeq: "error", "no-var": "error", "prefer-const": "error" },
  },
  {
    files: ["tests/js/**/*.js"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
