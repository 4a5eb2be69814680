// Builds the console (npm run build:console) when its output is missing or older than its sources:
// `npm start` and the browser tests run it first, so a fresh clone serves /console without a separate step.
const { existsSync, readdirSync, statSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const PAGE = path.join(__dirname, 'dist', 'index.html');

/** The newest modification time of the console's sources (src/, the page, the build's configuration). */
function sourcesChangedAt() {
  const sources = readdirSync(path.join(__dirname, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
  sources.push(path.join(__dirname, 'index.html'), path.join(__dirname, 'vite.config.mts'));
  return Math.max(...sources.map((file) => statSync(file).mtimeMs));
}

/** Builds the console unless console/dist/index.html is newer than its sources; returns whether it is there now. */
function ensureConsoleBuilt() {
  if (existsSync(PAGE) && statSync(PAGE).mtimeMs >= sourcesChangedAt()) return true;
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) {
    console.error('eventbus: the console is not built and vite is not installed (npm ci installs it).');
    return false;
  }
  const built = spawnSync(process.execPath, [vite, 'build', '--config', 'console/vite.config.mts'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return built.status === 0 && existsSync(PAGE);
}

module.exports = { ensureConsoleBuilt };

if (require.main === module) ensureConsoleBuilt();
