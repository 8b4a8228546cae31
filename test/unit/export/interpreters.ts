/**
 * Small interpreters of how each trainer turns its settings into trainable parameters, written from the tools' code
 * (independently of main/engine/export/layer-formats.ts) so the exported forms are read back the way the tools read them:
 * - PEFT: BaseTuner walks model.named_modules(); check_target_module_exists (exact key, or key ends with "." + entry;
 *   list form then filters by layer index with `.*\.{layers_pattern}\.(\d+)\.`); modules in modules_to_save are excluded
 *   from LoRA and wrapped as full trainable copies (_set_trainable: key.endswith(name)). LoRA adapts `weight`;
 *   bias="lora_only" trains the biases of LoRA layers.
 * - Axolotl: freeze_layers_except — every "." in a pattern is replaced by "\.", then re.match (anchored at the start).
 * - LLaMA-Factory: _setup_freeze_tuning — last/first N layer ids, ".{id}.{module}" or extra module names matched as
 *   substrings of parameter names.
 */
export interface Param {
  name: string;
  shape: number[];
}

export function peft(params: Param[], cfg: {
  target_modules: string[] | string;
  layers_to_transform?: number[] | number | null;
  layers_pattern?: string | string[] | null;
  bias?: 'none' | 'all' | 'lora_only';
  modules_to_save?: string[] | null;
}): Set<string> {
  const modules = new Set<string>();
  for (const p of params) {
    const parts = p.name.split('.');
    for (let i = 1; i < parts.length; i++) modules.add(parts.slice(0, i).join('.'));
  }
  const save = cfg.modules_to_save ?? [];
  const trainable = new Set<string>();
  const loraModules: string[] = [];
  for (const key of modules) {
    if (save.some((m) => new RegExp(`^(^|.*\\.)${m}($|\\..*)`).test(key))) continue;
    let found: boolean;
    if (typeof cfg.target_modules === 'string') found = new RegExp(`^(?:${cfg.target_modules})$`).test(key);
    else if (cfg.target_modules.includes(key)) found = true;
    else {
      found = cfg.target_modules.some((t) => key.endsWith(`.${t}`));
      const idx = cfg.layers_to_transform;
      const using = idx !== null && idx !== undefined && (Array.isArray(idx) ? idx.length > 0 : true);
      if (using && found) {
        const pats = cfg.layers_pattern ? (Array.isArray(cfg.layers_pattern) ? cfg.layers_pattern : [cfg.layers_pattern]) : [];
        let m: RegExpExecArray | null = null;
        if (!pats.length) m = /^.*\.[^.]*\.(\d+)\./.exec(key);
        else for (const pat of pats) if ((m = new RegExp(`^.*\\.${pat}\\.(\\d+)\\.`).exec(key))) break;
        found = m !== null && (Array.isArray(idx) ? idx.includes(Number(m[1])) : Number(m[1]) === idx);
      }
    }
    if (!found) continue;
    const w = params.find((p) => p.name === `${key}.weight`);
    if (!w || w.shape.length !== 2) throw new Error(`Target module ${key} is not supported`);
    loraModules.push(key);
    trainable.add(w.name);
  }
  for (const p of params) {
    if (cfg.bias === 'all' && p.name.endsWith('.bias')) trainable.add(p.name);
    if (cfg.bias === 'lora_only' && loraModules.some((k) => p.name === `${k}.bias`)) trainable.add(p.name);
  }
  const peftKeys = [...modules].map((k) => `base_model.model.${k}`);
  for (const key of peftKeys) {
    if (!save.some((m) => key.endsWith(m))) continue;
    const inner = key.slice('base_model.model.'.length);
    for (const p of params) if (p.name.startsWith(`${inner}.`)) trainable.add(p.name);
  }
  return trainable;
}

export function axolotl(params: Param[], patterns: string[]): Set<string> {
  const compiled = patterns.map((raw) => {
    const m = /^(.+)\[([0-9]*)(?::([0-9]*))?\]$/.exec(raw);
    if (m) throw new Error(`range patterns unfreeze part of a tensor: ${raw}`);
    return new RegExp(raw.split('.').join('\\.'), 'y'); // sticky at 0 = re.match
  });
  return new Set(params.filter((p) => compiled.some((re) => ((re.lastIndex = 0), re.test(p.name)))).map((p) => p.name));
}

export function llamaFactory(params: Param[], numLayers: number, cfg: {
  freeze_trainable_layers: number;
  freeze_trainable_modules: string;
  freeze_extra_modules?: string | null;
}): Set<string> {
  const n = cfg.freeze_trainable_layers;
  const ids: number[] = [];
  if (n > 0) for (let i = Math.max(0, numLayers - n); i < numLayers; i++) ids.push(i);
  else for (let i = 0; i < Math.min(-n, numLayers); i++) ids.push(i);
  const hidden = new Set<string>();
  const nonHidden = new Set<string>();
  for (const { name } of params) {
    if (name.includes('.0.')) hidden.add(name.split('.0.').pop()!.split('.')[0]!);
    else if (name.includes('.1.')) hidden.add(name.split('.1.').pop()!.split('.')[0]!);
    if (!/\.\d+\./.test(name)) {
      const parts = name.split('.');
      nonHidden.add(parts[parts.length - 2]!);
    }
  }
  const layers: string[] = [];
  for (const raw of cfg.freeze_trainable_modules.split(',')) {
    const m = raw.trim();
    if (m !== 'all' && !hidden.has(m)) throw new Error(`Module ${m} is not found`);
    for (const i of ids) layers.push(`.${i}.${m === 'all' ? '' : m}`);
  }
  for (const raw of cfg.freeze_extra_modules ? cfg.freeze_extra_modules.split(',') : []) {
    const m = raw.trim();
    if (!nonHidden.has(m)) throw new Error(`Module ${m} is not found`);
    layers.push(m);
  }
  return new Set(params.filter((p) => layers.some((l) => p.name.includes(l))).map((p) => p.name));
}

/**
 * The YAML the bundle's trainer configs use, read as YAML reads it: `key: scalar`, `key: [a, b]` and `key:` followed by
 * `  - item` lines (an item may be a map: `  - k: v` then `    k: v` lines); scalars are numbers, true/false/null, double-quoted (JSON) strings or plain words. Anything else
 * throws, naming the line, so a config outside this subset fails the test instead of being misread.
 */
export function readFlatYaml(text: string): Record<string, unknown> {
  const scalar = (v: string): unknown => {
    const t = v.trim();
    if (t === '' || t === 'null' || t === '~') return null;
    if (t === 'true' || t === 'false') return t === 'true';
    if (t.startsWith('"')) return JSON.parse(t) as string;
    if (/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return Number(t);
    if (/^[\w./-]+$/.test(t)) return t;
    throw new Error(`unsupported YAML scalar: ${t}`);
  };
  const out: Record<string, unknown> = {};
  let list: unknown[] | null = null;
  let map: Record<string, unknown> | null = null;
  const pair = (t: string) => /^([A-Za-z_][\w]*):(?: (.*))?$/.exec(t);
  text.split('\n').forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    const item = /^ {2}- (.*)$/.exec(line);
    if (item && list) {
      const kv = pair(item[1]!);
      map = kv ? { [kv[1]!]: scalar(kv[2] ?? '') } : null;
      return void list.push(map ?? scalar(item[1]!));
    }
    const inner = /^ {4}(.*)$/.exec(line);
    const innerKv = inner && map ? pair(inner[1]!) : null;
    if (innerKv && map) return void (map[innerKv[1]!] = scalar(innerKv[2] ?? ''));
    map = null;
    const kv = pair(line);
    if (!kv) throw new Error(`line ${i + 1}: not in the YAML subset read here: ${line}`);
    const v = (kv[2] ?? '').trim();
    if (v === '') {
      list = [];
      out[kv[1]!] = list;
    } else {
      list = null;
      out[kv[1]!] = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1).split(',').filter((x) => x.trim()).map(scalar) : scalar(v);
    }
  });
  // a key with neither a value nor items is null, as in YAML
  for (const [k, v] of Object.entries(out)) if (Array.isArray(v) && !v.length && !new RegExp(`^${k}: \\[\\]`, 'm').test(text)) out[k] = null;
  return out;
}
