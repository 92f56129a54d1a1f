#!/bin/sh
# Train Meridian's Brown SentencePiece tokenizer (BPE, byte fallback) on the
# train split made by prepare_brown.py, LLaMA conventions: unk=0 <unk>,
# bos=1 <s>, eos=2 </s>, no pad; identity normalization (text kept byte for
# byte), a dummy "▁" prefix, digits split, unknown characters as <0xNN> bytes.
#
# usage: tools/train/train_tokenizer.sh TRAIN_TXT OUT_PREFIX [VOCAB_SIZE]
# writes OUT_PREFIX.model and OUT_PREFIX.vocab
#
# BPE training over the whole input (input_sentence_size=0: no sampling, so no
# shuffling) is deterministic: the same text gives the same model bytes.
set -eu
train_txt=${1:?usage: $0 TRAIN_TXT OUT_PREFIX [VOCAB_SIZE]}
prefix=${2:?usage: $0 TRAIN_TXT OUT_PREFIX [VOCAB_SIZE]}
vocab=${3:-8192}

spm_train \
  --input="$train_txt" \
  --model_prefix="$prefix" \
  --model_type=bpe \
  --vocab_size="$vocab" \
  --character_coverage=1.0 \
  --byte_fallback=true \
  --split_digits=true \
  --split_by_unicode_script=true \
  --split_by_number=true \
  --split_by_whitespace=true \
  --normalization_rule_name=identity \
  --add_dummy_prefix=true \
  --remove_extra_whitespaces=false \
  --allow_whitespace_only_pieces=true \
  --max_sentence_length=65536 \
  --input_sentence_size=0 \
  --shuffle_input_sentence=false \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --unk_piece='<unk>' --bos_piece='<s>' --eos_piece='</s>' \
  --num_threads=2 \
  --minloglevel=1
