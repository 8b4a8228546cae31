/**
 * Two ways to draw the Map's scatter: WebGL (one draw call for every point, pan and zoom as a uniform) and a 2-D
 * canvas fallback (a fillRect per point) for when WebGL is unavailable. Both take points in "fit" coordinates (CSS
 * pixels at zoom 1), one RGBA colour per point, and a view transform screen = t + k · fit.
 */

export interface View {
  k: number;
  tx: number;
  ty: number;
}

export interface DrawInput {
  width: number;
  height: number;
  /** interleaved fit-space x, y per point */
  xy: Float32Array;
  /** RGBA per point, 0..255 */
  rgba: Uint8Array;
  /** indices drawn again on top, bigger and outlined (the lasso's pick) */
  picked: Uint32Array;
  outline: [number, number, number];
  view: View;
  /** point diameter in CSS px */
  size: number;
}

export interface ScatterRenderer {
  kind: 'webgl' | 'canvas';
  /** the data (xy, rgba, picked) changed: upload it again before the next draw */
  invalidate(): void;
  draw(d: DrawInput): void;
  dispose(): void;
}

const VS = `#version 300 es
in vec2 a_pos;
in vec4 a_rgba;
uniform vec2 u_size;
uniform vec3 u_view;
uniform float u_point;
out vec4 v_rgba;
void main() {
  vec2 s = u_view.yz + u_view.x * a_pos;
  gl_Position = vec4(2.0 * s.x / u_size.x - 1.0, 1.0 - 2.0 * s.y / u_size.y, 0.0, 1.0);
  gl_PointSize = u_point;
  v_rgba = a_rgba;
}`;

const FS = `#version 300 es
precision mediump float;
in vec4 v_rgba;
uniform vec4 u_override;
out vec4 outColor;
void main() {
  vec2 c = gl_PointCoord - 0.5;
  if (dot(c, c) > 0.25) discard;
  vec4 col = u_override.a > 0.0 ? u_override : v_rgba;
  outColor = vec4(col.rgb * col.a, col.a);
}`;

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const sh = gl.createShader(type)!;
  gl.shaderSource(sh, src);
  gl.compileShader(sh);
  if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh) ?? 'shader did not compile');
  return sh;
}

/** WebGL emulated on the CPU (SwiftShader, llvmpipe): slower than the canvas path for scatter plots. */
export function isSoftware(gl: WebGL2RenderingContext): boolean {
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return /swiftshader|llvmpipe|software/i.test(name);
}

export function createWebGlRenderer(canvas: HTMLCanvasElement, opts: { allowSoftware?: boolean } = {}): ScatterRenderer | null {
  // asked on a spare canvas: once a canvas has a WebGL context it can never give a 2-D one
  const probe = document.createElement('canvas').getContext('webgl2');
  if (!probe || (!opts.allowSoftware && isSoftware(probe))) return null;
  probe.getExtension('WEBGL_lose_context')?.loseContext();
  const gl = canvas.getContext('webgl2', { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: false });
  if (!gl) return null;
  let prog: WebGLProgram;
  try {
    prog = gl.createProgram()!;
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) return null;
  } catch {
    return null;
  }
  const loc = {
    pos: gl.getAttribLocation(prog, 'a_pos'),
    rgba: gl.getAttribLocation(prog, 'a_rgba'),
    size: gl.getUniformLocation(prog, 'u_size'),
    view: gl.getUniformLocation(prog, 'u_view'),
    point: gl.getUniformLocation(prog, 'u_point'),
    override: gl.getUniformLocation(prog, 'u_override'),
  };
  const posBuf = gl.createBuffer();
  const colBuf = gl.createBuffer();
  const pickBuf = gl.createBuffer();
  const vao = gl.createVertexArray();
  gl.bindVertexArray(vao);
  gl.bindBuffer(gl.ARRAY_BUFFER, posBuf);
  gl.enableVertexAttribArray(loc.pos);
  gl.vertexAttribPointer(loc.pos, 2, gl.FLOAT, false, 0, 0);
  gl.bindBuffer(gl.ARRAY_BUFFER, colBuf);
  gl.enableVertexAttribArray(loc.rgba);
  gl.vertexAttribPointer(loc.rgba, 4, gl.UNSIGNED_BYTE, true, 0, 0);
  let uploaded: DrawInput | null = null;
  let stale = true;

  return {
    kind: 'webgl',
    invalidate: () => {
      stale = true;
    },
    draw(d) {
      const dpr = window.devicePixelRatio || 1;
      const w = Math.round(d.width * dpr);
      const h = Math.round(d.height * dpr);
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      gl.viewport(0, 0, w, h);
      gl.clearColor(0, 0, 0, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.useProgram(prog);
      gl.bindVertexArray(vao);
      if (stale || uploaded?.xy !== d.xy || uploaded?.rgba !== d.rgba || uploaded?.picked !== d.picked) {
        gl.bindBuffer(gl.ARRAY_BUFFER, posBuf);
        gl.bufferData(gl.ARRAY_BUFFER, d.xy, gl.STATIC_DRAW);
        gl.bindBuffer(gl.ARRAY_BUFFER, colBuf);
        gl.bufferData(gl.ARRAY_BUFFER, d.rgba, gl.STATIC_DRAW);
        gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, pickBuf);
        gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, d.picked, gl.STATIC_DRAW);
        uploaded = d;
        stale = false;
      }
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      gl.uniform2f(loc.size, d.width, d.height);
      gl.uniform3f(loc.view, d.view.k, d.view.tx, d.view.ty);
      gl.uniform1f(loc.point, d.size * dpr);
      gl.uniform4f(loc.override, 0, 0, 0, 0);
      const n = d.xy.length / 2;
      gl.drawArrays(gl.POINTS, 0, n);
      if (d.picked.length) {
        // the pick on top: an outline disc, then the point's own colour inside it
        gl.uniform1f(loc.point, (d.size + 3) * dpr);
        gl.uniform4f(loc.override, d.outline[0] / 255, d.outline[1] / 255, d.outline[2] / 255, 1);
        gl.drawElements(gl.POINTS, d.picked.length, gl.UNSIGNED_INT, 0);
        gl.uniform1f(loc.point, (d.size + 1) * dpr);
        gl.uniform4f(loc.override, 0, 0, 0, 0);
        gl.drawElements(gl.POINTS, d.picked.length, gl.UNSIGNED_INT, 0);
      }
    },
    dispose() {
      gl.deleteBuffer(posBuf);
      gl.deleteBuffer(colBuf);
      gl.deleteBuffer(pickBuf);
      gl.deleteVertexArray(vao);
      gl.deleteProgram(prog);
    },
  };
}

/**
 * The 2-D canvas path: points are written straight into an RGBA pixel buffer and put on the canvas in one call.
 * Without a GPU this beats both fillRect per point (~0.8 s at 100k here) and WebGL on SwiftShader (~150 ms a frame,
 * bound by its per-point setup): 100k points cost a few milliseconds of plain array writes.
 */
export function createCanvasRenderer(canvas: HTMLCanvasElement): ScatterRenderer {
  const ctx = canvas.getContext('2d')!;
  let image: ImageData | null = null;
  return {
    kind: 'canvas',
    invalidate: () => {},
    draw(d) {
      const dpr = window.devicePixelRatio || 1;
      const w = Math.round(d.width * dpr);
      const h = Math.round(d.height * dpr);
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      if (!image || image.width !== w || image.height !== h) image = ctx.createImageData(w, h);
      const px = new Uint32Array(image.data.buffer);
      px.fill(0);
      const k = d.view.k * dpr;
      const tx = d.view.tx * dpr;
      const ty = d.view.ty * dpr;
      const size = Math.max(1, Math.round(d.size * dpr));
      const disc = discOffsets(size);
      const put = (cx: number, cy: number, r: number, g: number, b: number, a: number, offsets: Int16Array) => {
        for (let o = 0; o < offsets.length; o += 2) {
          const x = cx + offsets[o]!;
          const y = cy + offsets[o + 1]!;
          if (x < 0 || y < 0 || x >= w || y >= h) continue;
          const at = y * w + x;
          if (a === 255) {
            px[at] = 0xff000000 | (b << 16) | (g << 8) | r;
            continue;
          }
          // "over" a pixel already drawn (non-premultiplied, as ImageData is)
          const dst = px[at]!;
          const da = dst >>> 24;
          const oa = a + ((da * (255 - a)) >> 8);
          const mix = (sc: number, dc: number) => (oa ? ((sc * a + ((dc * da * (255 - a)) >> 8)) / oa) | 0 : 0);
          px[at] = ((oa & 255) << 24) | (mix(b, (dst >>> 16) & 255) << 16) | (mix(g, (dst >>> 8) & 255) << 8) | mix(r, dst & 255);
        }
      };
      const n = d.xy.length / 2;
      for (let i = 0; i < n; i++) {
        const cx = Math.round(tx + k * d.xy[2 * i]!);
        const cy = Math.round(ty + k * d.xy[2 * i + 1]!);
        if (cx < -size || cy < -size || cx > w + size || cy > h + size) continue;
        put(cx, cy, d.rgba[4 * i]!, d.rgba[4 * i + 1]!, d.rgba[4 * i + 2]!, d.rgba[4 * i + 3]!, disc);
      }
      if (d.picked.length) {
        const ring = discOffsets(size + 3);
        const inner = discOffsets(size + 1);
        const [or, og, ob] = d.outline;
        for (const i of d.picked) {
          const cx = Math.round(tx + k * d.xy[2 * i]!);
          const cy = Math.round(ty + k * d.xy[2 * i + 1]!);
          put(cx, cy, or, og, ob, 255, ring);
          put(cx, cy, d.rgba[4 * i]!, d.rgba[4 * i + 1]!, d.rgba[4 * i + 2]!, 255, inner);
        }
      }
      ctx.putImageData(image, 0, 0);
    },
    dispose: () => {
      image = null;
    },
  };
}

const discs = new Map<number, Int16Array>();
/** Pixel offsets of a filled disc of `size` px (a square up to 3 px, where a disc would look the same). */
function discOffsets(size: number): Int16Array {
  let d = discs.get(size);
  if (d) return d;
  const out: number[] = [];
  const r = size / 2;
  const lo = -Math.floor((size - 1) / 2);
  for (let y = lo; y < lo + size; y++) {
    for (let x = lo; x < lo + size; x++) {
      const cx = x - lo + 0.5 - r;
      const cy = y - lo + 0.5 - r;
      if (size <= 3 || cx * cx + cy * cy <= r * r) out.push(x, y);
    }
  }
  discs.set(size, (d = Int16Array.from(out)));
  return d;
}
