/**
 * Electron main: windows, menus, dialogs, and supervision of the engine host (a utilityProcess). It relays contract
 * calls from the renderer to the engine host and pushes engine events back. Nothing heavy runs here.
 */
import { app, BrowserWindow, ipcMain, dialog, utilityProcess, session, type UtilityProcess } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isApiName, type EngineEvent, type Result } from '../preload/contract';

const here = fileURLToPath(new URL('.', import.meta.url));
let engine: UtilityProcess | null = null;
let win: BrowserWindow | null = null;
let nextId = 1;
const pending = new Map<number, (r: Result<unknown>) => void>();
let restarts = 0;

function broadcast(event: EngineEvent): void {
  win?.webContents.send('winnow:event', event);
}

function startEngine(): void {
  process.env.WINNOW_HOME ??= app.getPath('userData');
  process.env.WINNOW_RESOURCES ??= app.isPackaged ? join(process.resourcesPath, 'resources') : join(here, '..', '..', 'resources');
  engine = utilityProcess.fork(join(here, 'engine-host.js'), [], { serviceName: 'winnow-engine', stdio: 'inherit', env: process.env });
  engine.on('message', (msg: { t: string; id?: number; result?: Result<unknown>; event?: EngineEvent }) => {
    if (msg.t === 'result' && msg.id !== undefined) {
      pending.get(msg.id)?.(msg.result!);
      pending.delete(msg.id);
    } else if (msg.t === 'event' && msg.event) {
      if (msg.event.type === 'engine' && msg.event.status === 'ready') restarts = 0;
      broadcast(msg.event);
    }
  });
  engine.on('exit', (code) => {
    engine = null;
    for (const [, resolve] of pending) resolve({ ok: false, error: { code: 'engine_unavailable', message: `the engine stopped (code ${code}); restarting` } });
    pending.clear();
    if (app.isReady() && !quitting) {
      restarts++;
      broadcast({ type: 'engine', status: 'restarting', message: `the engine stopped (code ${code}); restarting it` });
      setTimeout(startEngine, Math.min(10_000, 250 * 2 ** Math.min(restarts, 6)));
    }
  });
}

let quitting = false;

function createWindow(): void {
  win = new BrowserWindow({
    width: 1400,
    height: 900,
    show: false,
    title: 'Winnow',
    webPreferences: {
      preload: join(here, '..', 'preload', 'index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
      // middle-click must not open links in new windows (electronegativity AUXCLICK_JS_CHECK)
      disableBlinkFeatures: 'Auxclick',
    },
  });
  win.once('ready-to-show', () => win?.show());
  // no navigation away from the app and no new windows of any kind
  win.webContents.on('will-navigate', (e, url) => {
    if (url !== win?.webContents.getURL()) e.preventDefault();
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL);
  else void win.loadFile(join(here, '..', 'renderer', 'index.html'));
}

app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  startEngine();
  ipcMain.handle('winnow:call', async (e, name: unknown, input: unknown): Promise<Result<unknown>> => {
    // only the app's own top frame may call, and only contract channels
    if (!win || e.sender !== win.webContents || e.senderFrame !== win.webContents.mainFrame) {
      return { ok: false, error: { code: 'bad_input', message: 'call refused: unexpected sender' } };
    }
    if (!isApiName(name)) return { ok: false, error: { code: 'bad_input', message: `unknown call "${String(name)}"` } };
    if (!engine) return { ok: false, error: { code: 'engine_unavailable', message: 'the engine is restarting; try again in a moment' } };
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      engine!.postMessage({ t: 'call', id, name, input });
    });
  });
  ipcMain.handle('winnow:pickFile', async (e) => {
    if (!win || e.sender !== win.webContents) return null;
    const r = await dialog.showOpenDialog(win, { properties: ['openFile'], filters: [{ name: 'Datasets', extensions: ['jsonl', 'json', 'csv', 'tsv', 'txt', 'gz', 'parquet'] }] });
    return r.canceled ? null : r.filePaths[0];
  });
  createWindow();
});

app.on('before-quit', () => {
  quitting = true;
  engine?.kill();
});
app.on('window-all-closed', () => app.quit());
