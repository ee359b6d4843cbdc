import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { createSchedule } from '@difflab/schedulers';
import { it } from 'vitest';
import { DDIMSampler, DDPMSampler } from './index.js';
const fx = JSON.parse(readFileSync(new URL('./__fixtures__/diffusers-loops.json', import.meta.url), 'utf8'));
const sf = JSON.parse(readFileSync(new URL('../../schedulers/src/__fixtures__/diffusers-schedules.json', import.meta.url), 'utf8'));
const betasOf: Record<string, number[]> = { linear1000: sf.schedules[0].betas, spiral50: sf.schedules[1].betas };
it('diag', () => {
  for (const c of fx.loops) {
    const key = c.name.includes('linear1000') ? 'linear1000' : c.name.includes('spiral50') ? 'spiral50' : null;
    if (!key) continue;
    const sch = createSchedule({ trained_betas: betasOf[key] });
    const cfg = c.config;
    const common = { numInferenceSteps: c.num_inference_steps, predictionType: cfg.prediction_type, clipSample: cfg.clip_sample, clipSampleRange: cfg.clip_sample_range, timestepSpacing: cfg.timestep_spacing };
    const s = cfg._class_name === 'DDPMScheduler' ? new DDPMSampler(sch, { ...common, varianceType: cfg.variance_type }) : new DDIMSampler(sch, { ...common, eta: c.eta, setAlphaToOne: cfg.set_alpha_to_one, useClippedModelOutput: c.use_clipped_model_output });
    let x = tf.tensor2d(c.x_T);
    let worstX0 = 0, worstPrev = 0;
    const rec = new Map(c.steps.map((st: any) => [st.index, st]));
    c.timesteps.forEach((t: number, i: number) => {
      const out = tf.tidy(() => { const y = tf.div(tf.mul(x, t), t + 1); return c.negate_model ? tf.neg(y) : y; });
      const noise = c.noise ? tf.tensor2d(c.noise[i]) : undefined;
      const r = s.step(out, t, x, { noise });
      const st: any = rec.get(i);
      if (st) {
        const a = r.predOriginalSample.dataSync(), b = st.pred_original_sample.flat();
        const p = r.prevSample.dataSync(), q = st.prev_sample.flat();
        for (let k = 0; k < b.length; k++) { worstX0 = Math.max(worstX0, Math.abs(a[k] - b[k]) / Math.max(1, Math.abs(b[k]))); worstPrev = Math.max(worstPrev, Math.abs(p[k] - q[k]) / Math.max(1, Math.abs(q[k]))); }
      }
      tf.dispose([out, x, r.predOriginalSample]); noise?.dispose(); x = r.prevSample;
    });
    console.log('D', c.name, worstPrev.toExponential(2), worstX0.toExponential(2));
    x.dispose();
  }
});
