"""BERT- and ALBERT-style Transformer encoders in plain PyTorch.

Debian 12 ships no python3-transformers, so the encoders the benchmarks need are written here with
the same structure and sizes as Hugging Face's BertModel / AlbertModel (post-LayerNorm blocks,
exact erf GELU, learned absolute positions, token type 0). The graph PyTorch exports from them has
the same operators an exported Hugging Face model has, minus the attention-mask arithmetic: the
models take one input, `input_ids`, and every position is attended (no padding).
"""

import math

import torch
from torch import nn


class EncoderConfig:
    """Sizes of one encoder; `shared_layers` makes it ALBERT (one block applied `layers` times)."""

    def __init__(self, vocab, hidden, embedding, layers, heads, ffn, max_pos, type_vocab,
                 shared_layers, ln_eps=1e-12):
        self.vocab = vocab
        self.hidden = hidden
        self.embedding = embedding
        self.layers = layers
        self.heads = heads
        self.ffn = ffn
        self.max_pos = max_pos
        self.type_vocab = type_vocab
        self.shared_layers = shared_layers
        self.ln_eps = ln_eps


BERT_BASE = EncoderConfig(vocab=30522, hidden=768, embedding=768, layers=12, heads=12, ffn=3072,
                          max_pos=512, type_vocab=2, shared_layers=False)
ALBERT_BASE = EncoderConfig(vocab=30000, hidden=768, embedding=128, layers=12, heads=12, ffn=3072,
                            max_pos=512, type_vocab=2, shared_layers=True)
TINY = EncoderConfig(vocab=100, hidden=32, embedding=32, layers=1, heads=2, ffn=64,
                     max_pos=64, type_vocab=2, shared_layers=False, ln_eps=1e-5)


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (MatMul, Transpose, Softmax in the export)."""

    def __init__(self, cfg):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.hidden // cfg.heads
        self.query = nn.Linear(cfg.hidden, cfg.hidden)
        self.key = nn.Linear(cfg.hidden, cfg.hidden)
        self.value = nn.Linear(cfg.hidden, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.hidden)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        b, _, s, _ = ctx.shape
        return self.out(ctx.transpose(1, 2).reshape(b, s, self.heads * self.head_dim))


class Block(nn.Module):
    """One post-LayerNorm Transformer block, as in BERT: x = LN(x + Attn(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg):
        super().__init__()
        self.attn = SelfAttention(cfg)
        self.ln1 = nn.LayerNorm(cfg.hidden, eps=cfg.ln_eps)
        self.ffn_in = nn.Linear(cfg.hidden, cfg.ffn)
        self.ffn_out = nn.Linear(cfg.ffn, cfg.hidden)
        self.ln2 = nn.LayerNorm(cfg.hidden, eps=cfg.ln_eps)

    def forward(self, x):
        x = self.ln1(x + self.attn(x))
        return self.ln2(x + self.ffn_out(nn.functional.gelu(self.ffn_in(x))))


class Encoder(nn.Module):
    """Embeddings (word + position + token type 0, LayerNorm, optional ALBERT projection) + blocks.

    Input: input_ids int64 [batch, seq]. Output: last hidden state float32 [batch, seq, hidden].
    """

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.word = nn.Embedding(cfg.vocab, cfg.embedding)
        self.position = nn.Embedding(cfg.max_pos, cfg.embedding)
        self.token_type = nn.Embedding(cfg.type_vocab, cfg.embedding)
        self.ln = nn.LayerNorm(cfg.embedding, eps=cfg.ln_eps)
        self.project = (nn.Linear(cfg.embedding, cfg.hidden) if cfg.embedding != cfg.hidden
                        else None)
        n_blocks = 1 if cfg.shared_layers else cfg.layers
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(n_blocks))
        self.register_buffer("position_ids", torch.arange(cfg.max_pos).unsqueeze(0),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        """BERT's initialisation: N(0, 0.02) weights, zero biases, LayerNorm at identity."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        pos = self.position_ids[:, :seq]
        x = self.word(input_ids) + self.position(pos) + self.token_type.weight[0]
        x = self.ln(x)
        if self.project is not None:
            x = self.project(x)
        for i in range(self.cfg.layers if self.cfg.shared_layers else len(self.blocks)):
            x = self.blocks[0 if self.cfg.shared_layers else i](x)
        return x
