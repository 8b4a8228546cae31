/**
 * Whether the webgpu backend can start in this test process (a hardware adapter, or SwiftShader from Chromium's
 * folder: .ci/run installs chromium, whose chromium-common ships libvk_swiftshader.so and libvulkan.so.1).
 * Test files use it at top level: `const GPU = await webgpuSkipReason()` then `describe.skipIf(GPU)`. A skip names
 * what is missing. CI must have an adapter: with WINNOW_REQUIRE_WEBGPU=1 (.ci/run sets it) a missing one fails.
 */
import { initBackend } from '../../main/engine/compute/backend';

let probed: Promise<string | null> | null = null;

export function webgpuSkipReason(): Promise<string | null> {
  probed ??= (async () => {
    try {
      const info = await initBackend('webgpu');
      if (info.name === 'webgpu') return null;
      const why = info.unavailable.find((u) => u.name === 'webgpu')?.why ?? 'no adapter';
      if (process.env.WINNOW_REQUIRE_WEBGPU === '1') throw new Error(`WINNOW_REQUIRE_WEBGPU=1 but webgpu cannot start: ${why}`);
      return `webgpu cannot start here: ${why}`;
    } finally {
      await initBackend('cpu');
    }
  })();
  return probed;
}
