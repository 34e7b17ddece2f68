"""Write the shipped audio model (models/audiodemo) from a pipeline folder train.py wrote:

    tokenizer/ text_encoder/ scheduler/   as they are
    projection_model/ transformer/ vae/   fp16 (the engine computes in fp32; the half values are
                                          upcast at load, as diffusers does with torch_dtype)
    model_index.json                      StableAudioPipeline's, with "_smoothcache" defaults
                                          (--guidance, --steps: what the model is measured at)
    prompts.json                          the words and sample rate (train.py's)
    prompts-seen.txt                      200 training captions (every one in turn)
    prompts-held-out.txt                  the 4 held-out captions, 10 times each
    prompts-calibration.txt               10 training captions for SmoothCache's calibration

Configs lose diffusers' "_name_or_path" (a path of the machine that trained the model).

    python tools/audiodemo/ship.py --from tools/audiodemo/out/dit-a --out models/audiodemo --guidance 5 --steps 50
"""

import argparse
import json
import os
import random
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sounds  # noqa: E402


def prompt_files():
    seen_all = sounds.all_captions()
    seen = [seen_all[i % len(seen_all)] for i in range(200)]
    return {"prompts-seen.txt": seen, "prompts-held-out.txt": sounds.held_out_captions() * 10,
            "prompts-calibration.txt": random.Random(1).sample(seen_all, 10)}


def strip_machine_paths(folder):
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".json"):
                p = os.path.join(root, name)
                with open(p) as f:
                    d = json.load(f)
                if isinstance(d, dict) and "_name_or_path" in d:
                    del d["_name_or_path"]
                    with open(p, "w") as f:
                        json.dump(d, f, indent=2, sort_keys=True)
                        f.write("\n")


def main():
    from diffusers import AutoencoderOobleck, StableAudioDiTModel
    from diffusers.pipelines.stable_audio.modeling_stable_audio import StableAudioProjectionModel

    ap = argparse.ArgumentParser(description="write models/audiodemo from a folder train.py wrote")
    ap.add_argument("--from", dest="src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--guidance", type=float, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--force", action="store_true", help="replace --out's model files")
    args = ap.parse_args()
    if os.path.exists(args.out) and not args.force:
        sys.exit(f"{args.out} exists: --force replaces its model files")
    os.makedirs(args.out, exist_ok=True)
    for sub in ("tokenizer", "text_encoder", "scheduler"):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        shutil.copytree(os.path.join(args.src, sub), os.path.join(args.out, sub))
    for sub, cls in (("projection_model", StableAudioProjectionModel), ("transformer", StableAudioDiTModel),
                     ("vae", AutoencoderOobleck)):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        m = cls.from_pretrained(os.path.join(args.src, sub), torch_dtype=torch.float32).half()
        m.save_pretrained(os.path.join(args.out, sub), safe_serialization=True)
    with open(os.path.join(args.src, "model_index.json")) as f:
        index = json.load(f)
    index["_smoothcache"] = {"guidance_scale": args.guidance, "num_inference_steps": args.steps}
    with open(os.path.join(args.out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    shutil.copy(os.path.join(args.src, "prompts.json"), os.path.join(args.out, "prompts.json"))
    for name, lines in prompt_files().items():
        with open(os.path.join(args.out, name), "w") as f:
            f.write("".join(p + "\n" for p in lines))
    strip_machine_paths(args.out)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, fs in os.walk(args.out) for n in fs)
    print(f"wrote {args.out}: {total / 1e6:.2f} MB (guidance {args.guidance:g}, {args.steps} steps)")


if __name__ == "__main__":
    main()
