#!/usr/bin/env python3
"""Reference for the Stable Audio DiT family (issue 16): tiny random diffusers StableAudioDiTModel
and StableAudioProjectionModel checkpoints, and the forwards the C engine must reproduce
(float32, <= 1e-4 relative).

    .venv/bin/python tools/reference_stable_audio.py OUT_DIR        (tests/fixtures/stableaudio)

Nothing is downloaded: the models are built from configs with seeded random weights (LayerNorm
affines and the Fourier tables included), on the CPU, in float32, eval mode.

Variants (OUT_DIR/<name>/: model_index.json naming StableAudioPipeline, transformer/ and
projection_model/, each config.json + diffusion_pytorch_model.safetensors):
  proj   text_encoder_dim 24 != conditioning_dim 32: the projection model's text Linear is used;
         4 query heads x 16, 2 key/value heads (grouped cross-attention), 2 layers, 8 channels
  ident  text_encoder_dim = conditioning_dim = 32 (Stable Audio Open's case: the text projection
         is the identity); 4 query heads, 4 key/value heads, 3 layers

Cases (OUT_DIR/<name>/case_<id>_*.npy; cases.json lists them). The pipeline's own arithmetic
(StableAudioPipeline.__call__: encode_prompt, encode_duration, the rotary table, one transformer
call) is written out here step by step for n = 2 prompts:
  x        float32 [R, C, S] latents as the transformer gets them (R rows)
  t        float32 [] the (continuous) timestep every row gets, as the pipeline passes it
  text     float32 [2, L, text_encoder_dim] T5 outputs of the prompts (random stand-ins)
  mask     int32 [2, L] their attention masks (row 1 padded after 3 tokens)
  neg_text, neg_mask   the negative prompt's (case `neg` only)
  seconds  float32 [2, 2] (seconds_start, seconds_end) per prompt
  out      float32 [R, C, S] the transformer's output
Cases: `raw` (R = 2: the prompts alone, no guidance); `guided` (R = 4: [uncond 2; cond 2], no
negative prompt: the unconditional rows' cross-attention tokens are all zero, their global token
is the prompts' durations, as the pipeline builds them); `neg` (R = 4 with a negative prompt:
the negative text through the projection, masked, with the same durations).

Sampling (OUT_DIR/proj/sample_*.npy, sample.json): k-diffusion's sample_dpmpp_3m_sde (eta 1) on
get_sigmas_polyexponential(STEPS, 0.3, 500, rho 1) -- stable-audio-tools' sample_k with its
generate_diffusion_cond defaults -- over external.VDenoiser around the transformer, guidance 7
on the v output as the engine applies it, the `guided` case's prompts and durations:
  sample_latents_in  float32 [2, C, S] unit noise (the sampler starts from it times sigma_max)
  sample_noise       float32 [STEPS, 2, C, S] the unit noise each step adds (the noise sampler
                     returns these in turn; the last step adds none)
  sample_out         float32 [2, C, S] the final latents
sample.json records the sigmas and the model's time input per call.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import StableAudioDiTModel
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_samplers import k_diffusion  # noqa: E402  (k-diffusion's sampling without its __init__)

VARIANTS = {
    "proj": dict(dit=dict(sample_size=16, in_channels=8, num_layers=2, attention_head_dim=16, num_attention_heads=4,
                          num_key_value_attention_heads=2, out_channels=8, cross_attention_dim=32, time_proj_dim=16,
                          global_states_input_dim=64, cross_attention_input_dim=32),
                 proj=dict(text_encoder_dim=24, conditioning_dim=32, min_value=0, max_value=512)),
    "ident": dict(dit=dict(sample_size=12, in_channels=8, num_layers=3, attention_head_dim=8, num_attention_heads=4,
                           num_key_value_attention_heads=4, out_channels=8, cross_attention_dim=32, time_proj_dim=32,
                           global_states_input_dim=64, cross_attention_input_dim=32),
                  proj=dict(text_encoder_dim=32, conditioning_dim=32, min_value=0, max_value=47)),
}

TEXT_LEN = 6
STEPS = 8
CFG = 7.0


def randomize(model, seed):
    """Every parameter drawn afresh: matrices N(0, 1/sqrt(fan_in)), vectors N(0, 0.3) around 0 (biases)
    or 1 (LayerNorm weights), the Fourier tables N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
            elif name.endswith("time_proj.weight") or name.endswith(".weights"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval()


def conditioning(proj, text, mask, seconds, neg_text=None, neg_mask=None, guided=False):
    """encoder_hidden_states [R, L + 2, Cd] and global_hidden_states [R, 1, 2 Cd] as
    StableAudioPipeline.__call__ builds them (encode_prompt, encode_duration, the concatenations)."""
    with torch.no_grad():
        if guided and neg_text is not None:
            neg = torch.where(neg_mask.bool().unsqueeze(2), neg_text, 0.0)
            embeds = torch.cat([neg, text])
            am = torch.cat([neg_mask, mask])
        else:
            embeds, am = text, mask
        embeds = proj(text_hidden_states=embeds).text_hidden_states
        embeds = embeds * am.unsqueeze(-1).to(embeds.dtype)
        embeds = embeds * am.unsqueeze(-1).to(embeds.dtype)
        po = proj(start_seconds=seconds[:, 0], end_seconds=seconds[:, 1])
        s0, s1 = po.seconds_start_hidden_states, po.seconds_end_hidden_states
        if guided and neg_text is not None:
            s0, s1 = torch.cat([s0, s0]), torch.cat([s1, s1])
        enc = torch.cat([embeds, s0, s1], dim=1)
        glob = torch.cat([s0, s1], dim=2)
        if guided and neg_text is None:
            enc = torch.cat([torch.zeros_like(enc), enc])
            glob = torch.cat([glob, glob])
    return enc, glob


@torch.no_grad()
def sample_case(d, dit, proj, text, mask, seconds, g):
    sampling, external = k_diffusion()
    enc, glob = conditioning(proj, text, mask, seconds, guided=True)        # [uncond 2; cond 2]
    C, S = dit.config.in_channels, dit.config.sample_size
    rot = get_1d_rotary_pos_embed(dit.config.attention_head_dim // 2, S + 1, use_real=True,
                                  repeat_interleave_real=False)
    calls = []

    def inner(x, t):
        calls.append(float(t[0]))
        v = dit(torch.cat([x, x]), t[:1], encoder_hidden_states=enc, global_hidden_states=glob,
                rotary_embedding=rot).sample
        uncond, cond = v.chunk(2)
        return uncond + CFG * (cond - uncond)

    denoiser = external.VDenoiser(inner)
    sigmas = sampling.get_sigmas_polyexponential(STEPS, 0.3, 500.0, 1.0)
    x0 = torch.randn(2, C, S, generator=g)
    noise = torch.randn(STEPS, 2, C, S, generator=g)
    noise[-1] = 0.0
    drawn = []

    def noise_sampler(sigma, sigma_next):
        drawn.append(len(drawn))
        return noise[len(drawn) - 1]

    out = sampling.sample_dpmpp_3m_sde(denoiser, x0 * sigmas[0], sigmas, noise_sampler=noise_sampler, disable=True)
    assert len(drawn) == STEPS - 1 and len(calls) == STEPS
    np.save(d / "sample_latents_in.npy", x0.numpy())
    np.save(d / "sample_noise.npy", noise.numpy())
    np.save(d / "sample_out.npy", out.numpy())
    with open(d / "sample.json", "w") as f:
        json.dump({"sampler": "k_diffusion.sampling.sample_dpmpp_3m_sde", "steps": STEPS, "cfg": CFG,
                   "sigmas": [float(s) for s in sigmas], "model_t": calls, "case": "guided",
                   "max_abs_out": float(out.abs().max())}, f, indent=1)
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_root = Path(sys.argv[1])
    torch.manual_seed(0)
    manifest = {"tool": "tools/reference_stable_audio.py", "torch": torch.__version__, "variants": {}}
    for vi, (name, spec) in enumerate(VARIANTS.items()):
        d = out_root / name
        d.mkdir(parents=True, exist_ok=True)
        dit = randomize(StableAudioDiTModel(**spec["dit"]), 100 + vi)
        proj = randomize(StableAudioProjectionModel(**spec["proj"]), 200 + vi)
        dit.save_pretrained(d / "transformer", safe_serialization=True)
        proj.save_pretrained(d / "projection_model", safe_serialization=True)
        with open(d / "model_index.json", "w") as f:
            json.dump({"_class_name": "StableAudioPipeline", "transformer": ["diffusers", "StableAudioDiTModel"],
                       "projection_model": ["stable_audio", "StableAudioProjectionModel"]}, f, indent=1)
            f.write("\n")
        # Reloaded from disk: what the C engine reads.
        dit = StableAudioDiTModel.from_pretrained(d / "transformer").eval()
        proj = StableAudioProjectionModel.from_pretrained(d / "projection_model").eval()
        C, S = spec["dit"]["in_channels"], spec["dit"]["sample_size"]
        Ct, hd = spec["proj"]["text_encoder_dim"], spec["dit"]["attention_head_dim"]
        g = torch.Generator().manual_seed(300 + vi)
        text = torch.randn(2, TEXT_LEN, Ct, generator=g)
        mask = torch.ones(2, TEXT_LEN, dtype=torch.int32)
        mask[1, 3:] = 0
        neg_text = torch.randn(2, TEXT_LEN, Ct, generator=g)
        neg_mask = torch.ones(2, TEXT_LEN, dtype=torch.int32)
        neg_mask[0, 2:] = 0
        seconds = torch.tensor([[0.0, 10.0], [1.5, 30.0]])
        t = torch.tensor(0.7311)
        cases = {}
        for cid, guided, neg in (("raw", False, False), ("guided", True, False), ("neg", True, True)):
            enc, glob = conditioning(proj, text, mask, seconds, neg_text if neg else None, neg_mask if neg else None,
                                     guided)
            R = enc.shape[0]
            x = torch.randn(R, C, S, generator=g)
            rot = get_1d_rotary_pos_embed(hd // 2, S + glob.shape[1], use_real=True, repeat_interleave_real=False)
            with torch.no_grad():
                out = dit(x, t.unsqueeze(0), encoder_hidden_states=enc, global_hidden_states=glob,
                          rotary_embedding=rot, return_dict=False)[0]
            arrays = {"x": x, "t": t, "text": text, "mask": mask, "seconds": seconds, "out": out}
            if neg:
                arrays.update(neg_text=neg_text, neg_mask=neg_mask)
            for k, v in arrays.items():
                np.save(d / f"case_{cid}_{k}.npy", v.numpy())
            cases[cid] = {"rows": R, "guided": guided, "negative_prompt": neg, "max_abs_out": float(out.abs().max())}
        # Checks made here: the durations and the text change the output; the mask matters.
        with torch.no_grad():
            enc, glob = conditioning(proj, text, mask, seconds)
            x = torch.randn(2, C, S, generator=g)
            rot = get_1d_rotary_pos_embed(hd // 2, S + 1, use_real=True, repeat_interleave_real=False)
            a = dit(x, t.unsqueeze(0), encoder_hidden_states=enc, global_hidden_states=glob, rotary_embedding=rot).sample
            enc2, glob2 = conditioning(proj, text, mask, seconds + 1.0)
            b = dit(x, t.unsqueeze(0), encoder_hidden_states=enc2, global_hidden_states=glob2,
                    rotary_embedding=rot).sample
            assert (a - b).abs().max() > 1e-3, "durations have no effect"
        if name == "proj":
            sample_case(d, dit, proj, text, mask, seconds, g)
        with open(d / "cases.json", "w") as f:
            json.dump(cases, f, indent=1)
            f.write("\n")
        manifest["variants"][name] = {"dit": spec["dit"], "projection": spec["proj"], "cases": list(cases)}
    with open(out_root / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(VARIANTS)} variants to {out_root}")


if __name__ == "__main__":
    main()
