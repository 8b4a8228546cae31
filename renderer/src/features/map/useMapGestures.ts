/**
 * The Map canvas's pointer: hover to read a point, drag a lasso to pick the points inside it, wheel to zoom about the
 * pointer, shift-drag (or middle-drag) to pan, double-click to reset the view.
 */
import { type PointerEvent, type RefObject, type WheelEvent, useRef, useState } from 'react';
import type { View } from './renderers';
import { insidePolygon } from './scatter';
import type { FittedPoints } from './useMapLayout';

export const IDENTITY: View = { k: 1, tx: 0, ty: 0 };

export function useMapGestures({ canvasRef, fit, n, setHover, setPicked, onLassoStart }: {
  canvasRef: RefObject<HTMLCanvasElement | null>;
  fit: FittedPoints | null;
  n: number;
  setHover: (point: number | null) => void;
  setPicked: (points: Uint32Array) => void;
  /** a lasso starts (the last "saved" message goes) */
  onLassoStart: () => void;
}) {
  const [view, setView] = useState<View>(IDENTITY);
  const [lasso, setLasso] = useState<Array<[number, number]> | null>(null);
  const pan = useRef<{ x: number; y: number; view: View } | null>(null);

  const local = (e: { clientX: number; clientY: number }): [number, number] => {
    const r = canvasRef.current!.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  const toFit = ([x, y]: [number, number]): [number, number] => [(x - view.tx) / view.k, (y - view.ty) / view.k];

  const finishLasso = (poly: Array<[number, number]>) => {
    if (!fit || poly.length <= 3) return setPicked(new Uint32Array(0));
    const fpoly = poly.map(toFit);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of fpoly) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const inside: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = fit.xs[i]!;
      const y = fit.ys[i]!;
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && insidePolygon(x, y, fpoly)) inside.push(i);
    }
    setPicked(Uint32Array.from(inside));
  };

  /** spread on the canvas */
  const handlers = {
    onPointerDown: (e: PointerEvent<HTMLCanvasElement>) => {
      try {
        (e.target as Element).setPointerCapture?.(e.pointerId);
      } catch {
        // not an active pointer (synthetic events): the drag still works inside the canvas
      }
      if (e.shiftKey || e.button === 1) {
        pan.current = { x: e.clientX, y: e.clientY, view };
        return;
      }
      setLasso([local(e)]);
      onLassoStart();
    },
    onPointerMove: (e: PointerEvent<HTMLCanvasElement>) => {
      if (pan.current) {
        const p = pan.current;
        setView({ ...p.view, tx: p.view.tx + e.clientX - p.x, ty: p.view.ty + e.clientY - p.y });
        return;
      }
      const pt = local(e);
      if (lasso) {
        setLasso([...lasso, pt]);
        return;
      }
      const [fx, fy] = toFit(pt);
      setHover(fit?.index.nearest(fx, fy, 8 / view.k) ?? null);
    },
    onPointerUp: () => {
      if (pan.current) {
        pan.current = null;
        return;
      }
      if (lasso) finishLasso(lasso);
      setLasso(null);
    },
    onPointerLeave: () => !lasso && setHover(null),
    onWheel: (e: WheelEvent<HTMLCanvasElement>) => {
      const [x, y] = local(e);
      const f = Math.exp(-e.deltaY * 0.0015);
      setView((v) => {
        const k = Math.min(200, Math.max(0.5, v.k * f));
        const r = k / v.k;
        return { k, tx: x - (x - v.tx) * r, ty: y - (y - v.ty) * r };
      });
    },
    onDoubleClick: () => setView(IDENTITY),
  };
  return { view, setView, lasso, handlers };
}
