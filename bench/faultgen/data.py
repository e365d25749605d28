"""Synthetic task data, tokenizers trained on the spot and tiny model shapes (no hub access).

Three tasks share one small grammar so every run trains in seconds on a CPU core:

- ``lm``: plain causal LM on random grammar sentences (generalizes: any sentence is valid);
- ``chat_sft``: chats asking for one of 64 fixed "facts" (subject + time -> verb + object); the
  answer format generalizes, the facts must be seen, so small train sets memorize;
- ``cls``: sequence classification, label = the verb's group, with seeded label noise (so the
  healthy loss floors well above zero and small train sets can overfit the noise).
"""

from __future__ import annotations

import random
from typing import Any

SUBJECTS = [
    "the cat",
    "a dog",
    "my friend",
    "the teacher",
    "our team",
    "the old man",
    "a small bird",
    "the robot",
]
VERBS = ["sees", "likes", "finds", "builds", "paints", "follows", "carries", "remembers"]
OBJECTS = [
    "a red ball",
    "the river",
    "a long road",
    "the blue house",
    "an apple",
    "the market",
    "a quiet song",
    "the bridge",
]
ENDINGS = [
    "today",
    "at night",
    "in spring",
    "with care",
    "again",
    "every day",
    "slowly",
    "before noon",
]
#: ``cls`` label of each verb (two classes).
VERB_CLASS = {v: i % 2 for i, v in enumerate(VERBS)}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: Model sizes of the grid: architecture and shape, built at run time with seeded weights.
SIZES: dict[str, dict[str, Any]] = {
    "qwen2-h32-l1": {
        "arch": "qwen2",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h64-l2": {
        "arch": "qwen2",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h48-l2": {
        "arch": "llama",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block (test v7g): sizes no dev run has, so its sources are new
    "qwen2-h48-l3": {
        "arch": "qwen2",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h96-l2": {
        "arch": "llama",
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v8g: two more sizes no earlier run has
    "llama-h64-l3": {
        "arch": "llama",
        "hidden_size": 64,
        "intermediate_size": 160,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
    },
    "qwen2-h80-l1": {
        "arch": "qwen2",
        "hidden_size": 80,
        "intermediate_size": 160,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v9g
    "qwen2-h40-l2": {
        "arch": "qwen2",
        "hidden_size": 40,
        "intermediate_size": 120,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "llama-h32-l4": {
        "arch": "llama",
        "hidden_size": 32,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    },
    # the sealed block v10g
    "llama-h72-l2": {
        "arch": "llama",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 2,
        "num_attention_heads": 3,
        "num_key_value_heads": 1,
    },
    "qwen2-h56-l3": {
        "arch": "qwen2",
        "hidden_size": 56,
        "intermediate_size": 112,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    },
    # the sealed block v11g
    "qwen2-h88-l2": {
        "arch": "qwen2",
        "hidden_size": 88,
        "intermediate_size": 176,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h40-l3": {
        "arch": "llama",
        "hidden_size": 40,
        "intermediate_size": 80,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v12g
    "llama-h56-l2": {
        "arch": "llama",
        "hidden_size": 56,
        "intermediate_size": 112,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h24-l3": {
        "arch": "qwen2",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v13g
    "qwen2-h72-l1": {
        "arch": "qwen2",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h80-l2": {
        "arch": "llama",
        "hidden_size": 80,
        "intermediate_size": 160,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
    },
    # the sealed block v14g
    "llama-h88-l1": {
        "arch": "llama",
        "hidden_size": 88,
        "intermediate_size": 176,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h64-l3": {
        "arch": "qwen2",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
    },
    # the sealed block v15g
    "qwen2-h80-l2": {
        "arch": "qwen2",
        "hidden_size": 80,
        "intermediate_size": 160,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h24-l2": {
        "arch": "llama",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v16g
    "llama-h72-l1": {
        "arch": "llama",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h56-l1": {
        "arch": "qwen2",
        "hidden_size": 56,
        "intermediate_size": 112,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
    },
    # the sealed block v17g
    "qwen2-h96-l1": {
        "arch": "qwen2",
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h40-l1": {
        "arch": "llama",
        "hidden_size": 40,
        "intermediate_size": 80,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v18g
    "llama-h64-l1": {
        "arch": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
    },
    "qwen2-h48-l1": {
        "arch": "qwen2",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v19g
    "qwen2-h32-l2": {
        "arch": "qwen2",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "llama-h56-l1": {
        "arch": "llama",
        "hidden_size": 56,
        "intermediate_size": 112,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v20g
    "llama-h32-l3": {
        "arch": "llama",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h40-l1": {
        "arch": "qwen2",
        "hidden_size": 40,
        "intermediate_size": 80,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v21g
    "qwen2-h72-l2": {
        "arch": "qwen2",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h48-l3": {
        "arch": "llama",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v22g
    "llama-h80-l1": {
        "arch": "llama",
        "hidden_size": 80,
        "intermediate_size": 160,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
    },
    "qwen2-h96-l2": {
        "arch": "qwen2",
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v23g
    "qwen2-h88-l1": {
        "arch": "qwen2",
        "hidden_size": 88,
        "intermediate_size": 176,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h96-l1": {
        "arch": "llama",
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v24g
    "llama-h88-l2": {
        "arch": "llama",
        "hidden_size": 88,
        "intermediate_size": 176,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h32-l3": {
        "arch": "qwen2",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v25g
    "qwen2-h24-l2": {
        "arch": "qwen2",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "llama-h56-l3": {
        "arch": "llama",
        "hidden_size": 56,
        "intermediate_size": 112,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v26g
    "llama-h24-l3": {
        "arch": "llama",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h64-l1": {
        "arch": "qwen2",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v27g
    "llama-h48-l1": {
        "arch": "llama",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h80-l3": {
        "arch": "qwen2",
        "hidden_size": 80,
        "intermediate_size": 160,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v28g
    "qwen2-h72-l3": {
        "arch": "qwen2",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h64-l2": {
        "arch": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v29g
    "llama-h72-l3": {
        "arch": "llama",
        "hidden_size": 72,
        "intermediate_size": 144,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h88-l3": {
        "arch": "qwen2",
        "hidden_size": 88,
        "intermediate_size": 176,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v30g
    "llama-h80-l3": {
        "arch": "llama",
        "hidden_size": 80,
        "intermediate_size": 160,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h40-l3": {
        "arch": "qwen2",
        "hidden_size": 40,
        "intermediate_size": 80,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v31g
    "qwen2-h56-l2": {
        "arch": "qwen2",
        "hidden_size": 56,
        "intermediate_size": 112,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    },
    "llama-h96-l3": {
        "arch": "llama",
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v32g
    "llama-h40-l2": {
        "arch": "llama",
        "hidden_size": 40,
        "intermediate_size": 80,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h48-l2": {
        "arch": "qwen2",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    },
    # the sealed block v33g
    "qwen2-h96-l3": {
        "arch": "qwen2",
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h88-l3": {
        "arch": "llama",
        "hidden_size": 88,
        "intermediate_size": 176,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v34g
    "llama-h32-l2": {
        "arch": "llama",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h24-l1": {
        "arch": "qwen2",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    # the sealed block v35g
    "llama-h32-l1": {
        "arch": "llama",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h104-l1": {
        "arch": "qwen2",
        "hidden_size": 104,
        "intermediate_size": 208,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v36g
    "llama-h24-l1": {
        "arch": "llama",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "qwen2-h104-l2": {
        "arch": "qwen2",
        "hidden_size": 104,
        "intermediate_size": 208,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v37g
    "qwen2-h112-l1": {
        "arch": "qwen2",
        "hidden_size": 112,
        "intermediate_size": 224,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h104-l1": {
        "arch": "llama",
        "hidden_size": 104,
        "intermediate_size": 208,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v38g
    "llama-h112-l1": {
        "arch": "llama",
        "hidden_size": 112,
        "intermediate_size": 224,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h104-l3": {
        "arch": "qwen2",
        "hidden_size": 104,
        "intermediate_size": 208,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v39g
    "qwen2-h120-l1": {
        "arch": "qwen2",
        "hidden_size": 120,
        "intermediate_size": 240,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h104-l2": {
        "arch": "llama",
        "hidden_size": 104,
        "intermediate_size": 208,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v40g
    "llama-h120-l1": {
        "arch": "llama",
        "hidden_size": 120,
        "intermediate_size": 240,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h112-l2": {
        "arch": "qwen2",
        "hidden_size": 112,
        "intermediate_size": 224,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v41g
    "llama-h112-l2": {
        "arch": "llama",
        "hidden_size": 112,
        "intermediate_size": 224,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h120-l2": {
        "arch": "qwen2",
        "hidden_size": 120,
        "intermediate_size": 240,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v42g
    "qwen2-h120-l3": {
        "arch": "qwen2",
        "hidden_size": 120,
        "intermediate_size": 240,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "llama-h120-l2": {
        "arch": "llama",
        "hidden_size": 120,
        "intermediate_size": 240,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v43g
    "llama-h112-l3": {
        "arch": "llama",
        "hidden_size": 112,
        "intermediate_size": 224,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h112-l3": {
        "arch": "qwen2",
        "hidden_size": 112,
        "intermediate_size": 224,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v44g
    "llama-h120-l3": {
        "arch": "llama",
        "hidden_size": 120,
        "intermediate_size": 240,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h128-l1": {
        "arch": "qwen2",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v45g
    "llama-h104-l3": {
        "arch": "llama",
        "hidden_size": 104,
        "intermediate_size": 208,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h128-l2": {
        "arch": "qwen2",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v46g
    "llama-h128-l1": {
        "arch": "llama",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h128-l3": {
        "arch": "qwen2",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v47g
    "llama-h128-l2": {
        "arch": "llama",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h136-l1": {
        "arch": "qwen2",
        "hidden_size": 136,
        "intermediate_size": 272,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v48g
    "llama-h128-l3": {
        "arch": "llama",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h136-l2": {
        "arch": "qwen2",
        "hidden_size": 136,
        "intermediate_size": 272,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v49g
    "llama-h136-l1": {
        "arch": "llama",
        "hidden_size": 136,
        "intermediate_size": 272,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h136-l3": {
        "arch": "qwen2",
        "hidden_size": 136,
        "intermediate_size": 272,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v50g
    "llama-h136-l2": {
        "arch": "llama",
        "hidden_size": 136,
        "intermediate_size": 272,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h144-l1": {
        "arch": "qwen2",
        "hidden_size": 144,
        "intermediate_size": 288,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v51g
    "llama-h136-l3": {
        "arch": "llama",
        "hidden_size": 136,
        "intermediate_size": 272,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h144-l2": {
        "arch": "qwen2",
        "hidden_size": 144,
        "intermediate_size": 288,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v52g
    "llama-h144-l1": {
        "arch": "llama",
        "hidden_size": 144,
        "intermediate_size": 288,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h144-l3": {
        "arch": "qwen2",
        "hidden_size": 144,
        "intermediate_size": 288,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v53g
    "llama-h144-l2": {
        "arch": "llama",
        "hidden_size": 144,
        "intermediate_size": 288,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h152-l1": {
        "arch": "qwen2",
        "hidden_size": 152,
        "intermediate_size": 304,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v54g
    "llama-h152-l1": {
        "arch": "llama",
        "hidden_size": 152,
        "intermediate_size": 304,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h152-l2": {
        "arch": "qwen2",
        "hidden_size": 152,
        "intermediate_size": 304,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v55g
    "llama-h152-l2": {
        "arch": "llama",
        "hidden_size": 152,
        "intermediate_size": 304,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h152-l3": {
        "arch": "qwen2",
        "hidden_size": 152,
        "intermediate_size": 304,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v56g
    "llama-h152-l3": {
        "arch": "llama",
        "hidden_size": 152,
        "intermediate_size": 304,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h160-l1": {
        "arch": "qwen2",
        "hidden_size": 160,
        "intermediate_size": 320,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v57g
    "llama-h160-l1": {
        "arch": "llama",
        "hidden_size": 160,
        "intermediate_size": 320,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h160-l2": {
        "arch": "qwen2",
        "hidden_size": 160,
        "intermediate_size": 320,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v58g
    "llama-h160-l2": {
        "arch": "llama",
        "hidden_size": 160,
        "intermediate_size": 320,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h160-l3": {
        "arch": "qwen2",
        "hidden_size": 160,
        "intermediate_size": 320,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v59g
    "llama-h160-l3": {
        "arch": "llama",
        "hidden_size": 160,
        "intermediate_size": 320,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h168-l1": {
        "arch": "qwen2",
        "hidden_size": 168,
        "intermediate_size": 336,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v60g
    "llama-h168-l1": {
        "arch": "llama",
        "hidden_size": 168,
        "intermediate_size": 336,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h168-l2": {
        "arch": "qwen2",
        "hidden_size": 168,
        "intermediate_size": 336,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v61g
    "llama-h168-l2": {
        "arch": "llama",
        "hidden_size": 168,
        "intermediate_size": 336,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h168-l3": {
        "arch": "qwen2",
        "hidden_size": 168,
        "intermediate_size": 336,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v62g
    "llama-h168-l3": {
        "arch": "llama",
        "hidden_size": 168,
        "intermediate_size": 336,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h176-l1": {
        "arch": "qwen2",
        "hidden_size": 176,
        "intermediate_size": 352,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v63g
    "llama-h176-l1": {
        "arch": "llama",
        "hidden_size": 176,
        "intermediate_size": 352,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h176-l2": {
        "arch": "qwen2",
        "hidden_size": 176,
        "intermediate_size": 352,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v64g
    "llama-h176-l2": {
        "arch": "llama",
        "hidden_size": 176,
        "intermediate_size": 352,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h176-l3": {
        "arch": "qwen2",
        "hidden_size": 176,
        "intermediate_size": 352,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v65g
    "llama-h176-l3": {
        "arch": "llama",
        "hidden_size": 176,
        "intermediate_size": 352,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h184-l1": {
        "arch": "qwen2",
        "hidden_size": 184,
        "intermediate_size": 368,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    # the sealed block v66g
    "llama-h184-l1": {
        "arch": "llama",
        "hidden_size": 184,
        "intermediate_size": 368,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "qwen2-h184-l2": {
        "arch": "qwen2",
        "hidden_size": 184,
        "intermediate_size": 368,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
}


def sentence(rng: random.Random) -> tuple[str, str, str, str]:
    return (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(ENDINGS))


def lm_texts(n: int, seed: int, words: int = 18) -> list[str]:
    """``n`` lines of random grammar sentences, cut to about ``words`` words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        toks: list[str] = []
        while len(toks) < words:
            toks += [*" ".join(sentence(rng)).split(), "."]
        out.append(" ".join(toks[:words]))
    return out


def facts() -> dict[tuple[str, str], tuple[str, str]]:
    """The 64 fixed facts of the chat task: (subject, ending) -> (verb, object)."""
    rng = random.Random(7)
    return {(s, e): (rng.choice(VERBS), rng.choice(OBJECTS)) for s in SUBJECTS for e in ENDINGS}


def chats(n: int, seed: int, pool: int | None = None) -> list[dict[str, Any]]:
    """``n`` chats in ``messages`` form; ``pool`` limits them to that many distinct facts."""
    rng = random.Random(seed)
    table = sorted(facts().items())
    rng.shuffle(table)
    if pool is not None:
        table = table[:pool]
    out = []
    for i in range(n):
        (subj, end), (verb, obj) = table[i % len(table)] if pool else rng.choice(table)
        q = rng.choice(["what does {s} do {e}?", "tell me what {s} does {e}.", "{s}, {e}?"])
        out.append(
            {
                "messages": [
                    {"role": "user", "content": q.format(s=subj, e=end)},
                    {"role": "assistant", "content": f"{subj} {verb} {obj} {end}."},
                ]
            }
        )
    return out


def classified(n: int, seed: int, noise: float) -> list[tuple[str, int]]:
    """``n`` (sentence, label) pairs; a ``noise`` share of labels is flipped."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s, v, o, e = sentence(rng)
        label = VERB_CLASS[v]
        if rng.random() < noise:
            label = 1 - label
        out.append((f"{s} {v} {o} {e} .", label))
    return out


def build_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-level BPE trained on ``texts`` now, wrapped as a fast tokenizer with ChatML."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*texts, "user", "assistant", "system"], trainer)
    fast: Any = PreTrainedTokenizerFast
    hf = fast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=128,
    )
    hf.chat_template = CHATML
    return hf


def build_model(size: str, tokenizer: Any, task: str, seed: int) -> Any:
    """A seeded random model of ``size`` for ``task`` (causal LM or 2-class classifier)."""
    import torch
    import transformers

    shape = dict(SIZES[size])
    arch = shape.pop("arch")
    cfg_cls: Any = transformers.Qwen2Config if arch == "qwen2" else transformers.LlamaConfig
    cfg = cfg_cls(
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        num_labels=2,
        **shape,
    )
    torch.manual_seed(seed)
    if task == "cls":
        head = (
            "Qwen2ForSequenceClassification"
            if arch == "qwen2"
            else "LlamaForSequenceClassification"
        )
    else:
        head = "Qwen2ForCausalLM" if arch == "qwen2" else "LlamaForCausalLM"
    return getattr(transformers, head)(cfg)
