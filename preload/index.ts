/**
 * The preload bridge: exposes exactly the contract (`call` + `onEvent`) as `window.winnow`, nothing else.
 * Runs sandboxed with context isolation; it can only reach main through the two channels below.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { EngineEvent, WinnowApi } from './contract';

const api = {
  call: (name, input) => ipcRenderer.invoke('winnow:call', name, input),
  onEvent: (listener) => {
    const handler = (_e: IpcRendererEvent, event: EngineEvent) => listener(event);
    ipcRenderer.on('winnow:event', handler);
    return () => ipcRenderer.removeListener('winnow:event', handler);
  },
  pickFile: () => ipcRenderer.invoke('winnow:pickFile'),
} satisfies WinnowApi;

contextBridge.exposeInMainWorld('winnow', api);
