// Types of scripts/import-graph.mjs, for the tests that import it.
export declare const LAYERS: string[][];
export declare function rankOf(folder: string): number;
export interface ImportGraph {
  files: string[];
  edges: Array<{ from: string; to: string[] }>;
  /** groups of files (paths from the root) that import each other in a circle */
  cycles: string[][];
  /** imports from a folder to a higher one, with a message naming both */
  upward: Array<{ from: string; to: string; message: string }>;
  /** groups of folders (of one rank) that import each other in a circle */
  folderCycles: string[][];
}
export declare function importGraph(root: string): ImportGraph;
