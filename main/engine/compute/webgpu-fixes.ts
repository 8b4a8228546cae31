/**
 * Fixes for the TF.js 4.22 'webgpu' backend; each is tested against 'cpu' (test/unit/compute/webgpu.test.ts).
 *
 * (a) TransposeProgram writes `setOutputAtIndex(i, A[…])`, and setOutputAtIndex takes an f32. When A's buffer holds
 *     int32 the WGSL does not compile ("type mismatch for argument 2 in call to 'setOutputAtIndex', expected 'f32',
 *     got 'i32'"). That happens for every transposed int32/bool tensor of rank ≥ 3, and for float32 tensors cast from
 *     int32 (the cast only relabels the buffer), which every reduction over a non-last axis transposes first — e.g. a
 *     masked mean over tokens, sum(cast(mask), 1). The program is used by other kernels directly, not through the
 *     kernel registry, so its shader is patched: the read is wrapped in f32(…) as TransposeSharedProgram already does
 *     (exact for integers below 2^24; for f32 data a no-op).
 */
type Program = { constructor: { name: string; prototype: { getUserCode: () => string } } };
type BackendClass = { prototype: { runWebGPUProgram: (program: Program, ...rest: unknown[]) => unknown } };

const PATCHED = Symbol.for('winnow.webgpuFixes');

function patchTranspose(proto: { getUserCode: () => string } & { [PATCHED]?: boolean }): void {
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const original = proto.getUserCode;
  proto.getUserCode = function (this: unknown) {
    const code = original.call(this);
    const at = code.indexOf('setOutputAtIndex(flatIndex, A[');
    if (at < 0) return code;
    const end = code.indexOf(')]);', at);
    if (end < 0) return code;
    return code.slice(0, at) + 'setOutputAtIndex(flatIndex, f32(A[' + code.slice(at + 'setOutputAtIndex(flatIndex, A['.length, end) + ')]));' + code.slice(end + 4);
  };
}

/** Install the fixes on tfjs-backend-webgpu's WebGPUBackend class (once). */
export function registerWebgpuFixes(WebGPUBackend: BackendClass): void {
  const proto = WebGPUBackend.prototype as BackendClass['prototype'] & { [PATCHED]?: boolean };
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const run = proto.runWebGPUProgram;
  proto.runWebGPUProgram = function (this: unknown, program: Program, ...rest: unknown[]) {
    // the program classes are not exported: patch a class's prototype the first time one of its programs runs
    if (program.constructor.name === 'TransposeProgram') patchTranspose(program.constructor.prototype);
    return run.call(this, program, ...rest);
  };
}
