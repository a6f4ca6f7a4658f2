"""A tiny Llama that has memorised three HumanEval solutions, built in seconds on CPU (no download).

docs/design.md, "vLLM's CPU build": hidden 128 with 2 heads (head_dim 64: the CPU attention kernel rejects
16), 2 layers, a byte-level BPE tokenizer trained here with `tokenizers`. About 300 AdamW steps (lr 3e-3) on
prompt + canonical solution of HumanEval/0, /2 and /4 make greedy decoding reproduce exactly those three.
Prompt and solution are tokenized separately and their ids joined, because vLLM tokenizes the prompt on its
own: BPE would merge across the boundary otherwise, and the model would answer with EOS. The tokenizer adds
no BOS, here and in vLLM alike.
"""

from __future__ import annotations

import json
from pathlib import Path

MEMORISED = ("HumanEval/0", "HumanEval/2", "HumanEval/4")
SPECIALS = ["<s>", "</s>", "<pad>"]
# A minimal chat template, so `--chat` can run against the tiny model too.
CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}"
                 "{% if not loop.last or add_generation_prompt %}</s>\n{% endif %}{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant\n{% endif %}")


def build_tiny_model(out: Path, steps: int = 300, seed: int = 0) -> Path:
    """Write the trained model (config, safetensors, tokenizer) to `out` and return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from coderun import datasets

    bench = datasets.load("humaneval")
    tokenizer = _train_tokenizer(bench, out)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    _train(model, _sequences(bench, tokenizer), steps)
    model.save_pretrained(out, safe_serialization=True)
    return out


def _train_tokenizer(bench, out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from coderun import datasets

    mbpp = datasets.load("mbpp", split="all")
    corpus = [p.canonical_solution for p in bench.problems] + [p.prompt + p.canonical_solution for p in mbpp.problems]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2048, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def _sequences(bench, tokenizer) -> list[tuple[list[int], int]]:
    """(token ids, where the loss starts): the memorised solutions whole, and two judge answers."""
    seqs = []
    for task in MEMORISED:
        p = bench.get(task)
        body = p.canonical_solution[len(p.prompt):]
        ids = tokenizer(p.prompt, add_special_tokens=False)["input_ids"]
        ids += tokenizer(body, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        seqs.append((ids, 0))
    return seqs + _judge_sequences(bench, tokenizer)


def _judge_sequences(bench, tokenizer) -> list[tuple[list[int], int]]:
    """The judge's prompt for a right and a wrong HumanEval/2 candidate, answered Yes and No: the judge tests
    need "Yes" and "No" among the verdict token's likeliest alternatives (a random model puts code there)."""
    from coderun.rerank.judge import pointwise_prompt

    p = bench.get("HumanEval/2")
    seqs = []
    for body, answer in (("    return number % 1.0\n", " Yes"), ("    return 0.5\n", " No")):
        prompt = tokenizer(pointwise_prompt(p.prompt, p.prompt + body, False)["text"], add_special_tokens=False)
        ids = prompt["input_ids"]
        seqs.append((ids + tokenizer(answer, add_special_tokens=False)["input_ids"], len(ids)))
    return seqs


def _train(model, seqs: list[tuple[list[int], int]], steps: int) -> None:
    import torch

    width = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), width), 0, dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (s, start) in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        labels[i, start:len(s)] = torch.tensor(s[start:])
        mask[i, :len(s)] = 1
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def build_adapter(model_dir: Path, out: Path, seed: int = 1) -> Path:
    """A peft LoRA adapter (r 8 on q_proj/v_proj) with random, non-zero B, so it changes the outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    base = LlamaForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(out)
    return out


if __name__ == "__main__":
    import sys

    path = build_tiny_model(Path(sys.argv[1]))
    print(json.dumps({"model": str(path)}))
