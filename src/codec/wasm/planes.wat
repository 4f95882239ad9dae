;; The codec's WebAssembly kernels, called from src/codec/simd-planes.ts, src/delta/ulp.ts,
;; src/delta/passes16.ts, beta.ts and lowrank.ts, and src/codec/rans.ts, which copy inputs into this
;; memory and results out:
;; - SIMD plane splits and merges, 16 elements per step. Callers pass element counts that are
;;   multiples of 16 (as `groups` of 16) and finish any remainder with the plain-TS code. Layouts
;;   are those of src/codec/planes.ts (bits16, bits32); see docs/FORMAT.md.
;; - The fast delta's ULP residual planes and their inverse.
;; - The strong delta's passes (residuals, context keys, tokens and raw bits, rebuild), its rANS
;;   coder, and the arithmetic of its low-rank sign model.
(module
  (memory (export "memory") 1)

  ;; bf16: exp = (w >> 7) & 0xff; rest = ((w >> 8) & 0x80) | (w & 0x7f)
  (func (export "split16") (param $src i32) (param $exp i32) (param $rest i32) (param $groups i32)
    (local $a v128) (local $b v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $a (v128.load (local.get $src)))
        (local.set $b (v128.load offset=16 (local.get $src)))
        (v128.store (local.get $exp)
          (i8x16.narrow_i16x8_u
            (v128.and (i16x8.shr_u (local.get $a) (i32.const 7)) (v128.const i16x8 255 255 255 255 255 255 255 255))
            (v128.and (i16x8.shr_u (local.get $b) (i32.const 7)) (v128.const i16x8 255 255 255 255 255 255 255 255))))
        (v128.store (local.get $rest)
          (i8x16.narrow_i16x8_u
            (v128.or
              (v128.and (i16x8.shr_u (local.get $a) (i32.const 8)) (v128.const i16x8 128 128 128 128 128 128 128 128))
              (v128.and (local.get $a) (v128.const i16x8 127 127 127 127 127 127 127 127)))
            (v128.or
              (v128.and (i16x8.shr_u (local.get $b) (i32.const 8)) (v128.const i16x8 128 128 128 128 128 128 128 128))
              (v128.and (local.get $b) (v128.const i16x8 127 127 127 127 127 127 127 127)))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $exp (i32.add (local.get $exp) (i32.const 16)))
        (local.set $rest (i32.add (local.get $rest) (i32.const 16)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $next))))

  ;; w = ((rest & 0x80) << 8) | (exp << 7) | (rest & 0x7f), 8 elements a step (two per group).
  ;; The hot loops in this module call no functions: V8 (Node 20) does not inline wasm calls, and a
  ;; call per vector made kernels 2-5x slower.
  (func (export "merge16") (param $exp i32) (param $rest i32) (param $dst i32) (param $groups i32)
    (local $r v128) (local $halves i32)
    (local.set $halves (i32.shl (local.get $groups) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $halves)))
        (local.set $r (v128.load8x8_u (local.get $rest)))
        (v128.store (local.get $dst)
          (v128.or
            (v128.or
              (i16x8.shl (v128.and (local.get $r) (v128.const i16x8 128 128 128 128 128 128 128 128)) (i32.const 8))
              (i16x8.shl (v128.load8x8_u (local.get $exp)) (i32.const 7)))
            (v128.and (local.get $r) (v128.const i16x8 127 127 127 127 127 127 127 127))))
        (local.set $exp (i32.add (local.get $exp) (i32.const 8)))
        (local.set $rest (i32.add (local.get $rest) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $halves (i32.sub (local.get $halves) (i32.const 1)))
        (br $next))))

  ;; 32-bit elements, 4 a step (four per group). With $bits = 1 (fp32), each word first becomes bytes
  ;; [low, mid, sign|mantissa-high, exponent]; with $bits = 0 (plain `bytes4` planes) it stays as it
  ;; is. Then a 4x4 byte transpose puts bytes 0, 1, 2 and 3 of the four elements in the four 32-bit
  ;; lanes, one lane per plane. Planes of bytes 3, 2, 1, 0 (for fp32: exponent, high, mid, low).
  (func (export "split32") (param $src i32) (param $exp i32) (param $high i32) (param $mid i32) (param $low i32) (param $groups i32) (param $bits i32)
    (local $v v128) (local $t v128) (local $quarters i32)
    (local.set $quarters (i32.shl (local.get $groups) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $quarters)))
        (local.set $v (v128.load (local.get $src)))
        (local.set $t
          (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15
            (select
              (v128.or
                (v128.or
                  (v128.and (local.get $v) (v128.const i32x4 0x007fffff 0x007fffff 0x007fffff 0x007fffff))
                  (v128.and (i32x4.shr_u (local.get $v) (i32.const 8)) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000)))
                (i32x4.shl (i32x4.shr_u (local.get $v) (i32.const 23)) (i32.const 24)))
              (local.get $v)
              (local.get $bits))
            (local.get $v)))
        (v128.store32_lane 0 (local.get $low) (local.get $t))
        (v128.store32_lane 1 (local.get $mid) (local.get $t))
        (v128.store32_lane 2 (local.get $high) (local.get $t))
        (v128.store32_lane 3 (local.get $exp) (local.get $t))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $exp (i32.add (local.get $exp) (i32.const 4)))
        (local.set $high (i32.add (local.get $high) (i32.const 4)))
        (local.set $mid (i32.add (local.get $mid) (i32.const 4)))
        (local.set $low (i32.add (local.get $low) (i32.const 4)))
        (local.set $quarters (i32.sub (local.get $quarters) (i32.const 1)))
        (br $next))))

  ;; Inverse of split32 (the 4x4 byte transpose is its own inverse).
  (func (export "merge32") (param $exp i32) (param $high i32) (param $mid i32) (param $low i32) (param $dst i32) (param $groups i32) (param $bits i32)
    (local $t v128) (local $quarters i32)
    (local.set $quarters (i32.shl (local.get $groups) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $quarters)))
        (local.set $t (v128.load32_zero (local.get $low)))
        (local.set $t (v128.load32_lane 1 (local.get $mid) (local.get $t)))
        (local.set $t (v128.load32_lane 2 (local.get $high) (local.get $t)))
        (local.set $t (v128.load32_lane 3 (local.get $exp) (local.get $t)))
        (local.set $t (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $t) (local.get $t)))
        (v128.store (local.get $dst)
          (select
            (v128.or
              (v128.or
                (v128.and (local.get $t) (v128.const i32x4 0x007fffff 0x007fffff 0x007fffff 0x007fffff))
                (i32x4.shl (v128.and (local.get $t) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000)) (i32.const 8)))
              (i32x4.shl (i32x4.shr_u (local.get $t) (i32.const 24)) (i32.const 23)))
            (local.get $t)
            (local.get $bits)))
        (local.set $exp (i32.add (local.get $exp) (i32.const 4)))
        (local.set $high (i32.add (local.get $high) (i32.const 4)))
        (local.set $mid (i32.add (local.get $mid) (i32.const 4)))
        (local.set $low (i32.add (local.get $low) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $quarters (i32.sub (local.get $quarters) (i32.const 1)))
        (br $next))))

  ;; Plain `bytes2` planes: the even and the odd bytes.
  (func (export "split2") (param $src i32) (param $p0 i32) (param $p1 i32) (param $groups i32)
    (local $a v128) (local $b v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $a (v128.load (local.get $src)))
        (local.set $b (v128.load offset=16 (local.get $src)))
        (v128.store (local.get $p0) (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 (local.get $a) (local.get $b)))
        (v128.store (local.get $p1) (i8x16.shuffle 1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 (local.get $a) (local.get $b)))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $next))))

  (func (export "merge2") (param $p0 i32) (param $p1 i32) (param $dst i32) (param $groups i32)
    (local $a v128) (local $b v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $a (v128.load (local.get $p0)))
        (local.set $b (v128.load (local.get $p1)))
        (v128.store (local.get $dst) (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $a) (local.get $b)))
        (v128.store offset=16 (local.get $dst) (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $a) (local.get $b)))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $next))))

  ;; Fast delta for 16-bit floats: z = zigzag(ulp(next) - pred) with ulp(w) = w ^ ((w >>s 15) & 0x7fff)
  ;; and pred = ulp(base) + ((beta * (ulp(base) - ulp(prev)) + 128) >> 8) (modulo 2^16; beta = 0 and
  ;; prev = base without an older base), written as byte planes: lo = z & 0xff, hi = z >> 8 (the
  ;; order of the plain `bytes2` split). 8 elements a step (two per group).
  (func (export "ulpSplit16") (param $base i32) (param $prev i32) (param $next i32) (param $lo i32) (param $hi i32) (param $groups i32) (param $beta i32)
    (local $z v128) (local $w v128) (local $v v128) (local $p v128) (local $t v128) (local $b v128) (local $halves i32)
    (local.set $b (i16x8.splat (local.get $beta)))
    (local.set $halves (i32.shl (local.get $groups) (i32.const 1)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $halves)))
        (local.set $w (v128.load (local.get $next)))
        (local.set $v (v128.load (local.get $base)))
        (local.set $p (v128.load (local.get $prev)))
        (local.set $w (v128.xor (local.get $w) (v128.and (i16x8.shr_s (local.get $w) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $v (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $p (v128.xor (local.get $p) (v128.and (i16x8.shr_s (local.get $p) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        ;; trend = (beta * (v - p) + 128) >> 8 in 32-bit lanes, kept modulo 2^16
        (local.set $t (i16x8.sub (local.get $v) (local.get $p)))
        (local.set $t
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29
            (i32x4.shr_s (i32x4.add (i32x4.extmul_low_i16x8_s (local.get $t) (local.get $b)) (v128.const i32x4 128 128 128 128)) (i32.const 8))
            (i32x4.shr_s (i32x4.add (i32x4.extmul_high_i16x8_s (local.get $t) (local.get $b)) (v128.const i32x4 128 128 128 128)) (i32.const 8))))
        (local.set $z (i16x8.sub (local.get $w) (i16x8.add (local.get $v) (local.get $t))))
        (local.set $z (v128.xor (i16x8.shl (local.get $z) (i32.const 1)) (i16x8.shr_s (local.get $z) (i32.const 15))))
        ;; even bytes of z (its low bytes) in lanes 0-7, odd bytes (high) in lanes 8-15
        (local.set $z (i8x16.shuffle 0 2 4 6 8 10 12 14 1 3 5 7 9 11 13 15 (local.get $z) (local.get $z)))
        (v128.store64_lane 0 (local.get $lo) (local.get $z))
        (v128.store64_lane 1 (local.get $hi) (local.get $z))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $prev (i32.add (local.get $prev) (i32.const 16)))
        (local.set $next (i32.add (local.get $next) (i32.const 16)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 8)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 8)))
        (local.set $halves (i32.sub (local.get $halves) (i32.const 1)))
        (br $step))))

  ;; Inverse: z = hi << 8 | lo; v = pred + ((z >>u 1) ^ -(z & 1)); w = ulp(v) (ulp is its own inverse).
  ;; $dst may be $base: each step reads its elements before writing them.
  (func (export "ulpMerge16") (param $base i32) (param $prev i32) (param $lo i32) (param $hi i32) (param $dst i32) (param $groups i32) (param $beta i32)
    (local $z v128) (local $v v128) (local $p v128) (local $t v128) (local $b v128) (local $halves i32)
    (local.set $b (i16x8.splat (local.get $beta)))
    (local.set $halves (i32.shl (local.get $groups) (i32.const 1)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $halves)))
        (local.set $z (v128.or (v128.load8x8_u (local.get $lo)) (i16x8.shl (v128.load8x8_u (local.get $hi)) (i32.const 8))))
        (local.set $v (v128.load (local.get $base)))
        (local.set $p (v128.load (local.get $prev)))
        (local.set $v (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $p (v128.xor (local.get $p) (v128.and (i16x8.shr_s (local.get $p) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        ;; trend = (beta * (v - p) + 128) >> 8 in 32-bit lanes, kept modulo 2^16
        (local.set $t (i16x8.sub (local.get $v) (local.get $p)))
        (local.set $t
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29
            (i32x4.shr_s (i32x4.add (i32x4.extmul_low_i16x8_s (local.get $t) (local.get $b)) (v128.const i32x4 128 128 128 128)) (i32.const 8))
            (i32x4.shr_s (i32x4.add (i32x4.extmul_high_i16x8_s (local.get $t) (local.get $b)) (v128.const i32x4 128 128 128 128)) (i32.const 8))))
        (local.set $v (i16x8.add (i16x8.add (local.get $v) (local.get $t))
          (v128.xor (i16x8.shr_u (local.get $z) (i32.const 1)) (i16x8.neg (v128.and (local.get $z) (v128.const i16x8 1 1 1 1 1 1 1 1))))))
        (v128.store (local.get $dst) (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $prev (i32.add (local.get $prev) (i32.const 16)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 8)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $halves (i32.sub (local.get $halves) (i32.const 1)))
        (br $step))))

  ;; The cost fitBeta (src/delta/beta.ts) minimizes, for 16-bit floats: the total bit length of
  ;; r = int16(d1 - ((beta * d0 + 128) >> 8)) over $n int32 pairs ($n a multiple of 4; zero pairs
  ;; cost nothing, so callers pad with them). Bit length via the exponent of float(|r|), exact below 2^24.
  (func (export "betaCost16") (param $d0 i32) (param $d1 i32) (param $n i32) (param $beta i32) (result i32)
    (local $b v128) (local $r v128) (local $sum v128)
    (local.set $b (i32x4.splat (local.get $beta)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $r (i32x4.sub (v128.load (local.get $d1))
          (i32x4.shr_s (i32x4.add (i32x4.mul (v128.load (local.get $d0)) (local.get $b)) (v128.const i32x4 128 128 128 128)) (i32.const 8))))
        (local.set $r (i32x4.abs (i32x4.shr_s (i32x4.shl (local.get $r) (i32.const 16)) (i32.const 16))))
        (local.set $sum (i32x4.add (local.get $sum)
          (i32x4.max_s (i32x4.sub (i32x4.shr_u (f32x4.convert_i32x4_u (local.get $r)) (i32.const 23)) (v128.const i32x4 126 126 126 126))
            (v128.const i32x4 0 0 0 0))))
        (local.set $d0 (i32.add (local.get $d0) (i32.const 16)))
        (local.set $d1 (i32.add (local.get $d1) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 4)))
        (br $step)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $sum)) (i32x4.extract_lane 1 (local.get $sum)))
      (i32.add (i32x4.extract_lane 2 (local.get $sum)) (i32x4.extract_lane 3 (local.get $sum)))))

  ;; The strong delta's context keys for 16-bit floats, 8 elements a step: (the exponent of the base's
  ;; bits << $keyShift | the trend bucket of d = ulp(base) - ulp(prev)) << $lowShift | the
  ;; confidence bucket of the element's low-rank context value (u8 at $low, see lowRank16; zeros
  ;; without a model). The trend bucket is zigzag(d) below 14 as it is, else 14 for a rise and 15
  ;; for a fall (0 without an older base, where prev = base). Keys are u16 at $keys. The caller pads
  ;; $base and $prev to a multiple of 8 elements by repeating the last one, and $low with zeros.
  ;; Writes the smallest and largest key as two i32 at $out.
  (func (export "keys16") (param $base i32) (param $prev i32) (param $low i32) (param $n i32) (param $keys i32)
    (param $expShift i32) (param $expMask i32) (param $keyShift i32) (param $lowShift i32) (param $out i32)
    (local $steps i32) (local $v v128) (local $p v128) (local $d v128) (local $zd v128) (local $key v128)
    (local $keyMin v128) (local $keyMax v128)
    (local.set $keyMin (i16x8.splat (i32.const -1)))
    (local.set $steps (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (local.set $v (v128.load (local.get $base)))
        (local.set $p (v128.load (local.get $prev)))
        (local.set $key (i16x8.shl
          (v128.and (i16x8.shr_u (local.get $v) (local.get $expShift)) (i16x8.splat (local.get $expMask))) (local.get $keyShift)))
        (local.set $v (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $p (v128.xor (local.get $p) (v128.and (i16x8.shr_s (local.get $p) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $d (i16x8.sub (local.get $v) (local.get $p)))
        (local.set $zd (v128.xor (i16x8.shl (local.get $d) (i32.const 1)) (i16x8.shr_s (local.get $d) (i32.const 15))))
        (local.set $key (v128.or (local.get $key)
          (v128.bitselect
            (i16x8.sub (v128.const i16x8 14 14 14 14 14 14 14 14) (i16x8.shr_s (local.get $d) (i32.const 15)))
            (local.get $zd)
            (i16x8.gt_u (local.get $zd) (v128.const i16x8 13 13 13 13 13 13 13 13)))))
        (local.set $key (v128.or (i16x8.shl (local.get $key) (local.get $lowShift))
          (v128.and (i16x8.extend_low_i8x16_u (v128.load64_zero (local.get $low))) (v128.const i16x8 3 3 3 3 3 3 3 3))))
        (v128.store (local.get $keys) (local.get $key))
        (local.set $keyMin (i16x8.min_u (local.get $keyMin) (local.get $key)))
        (local.set $keyMax (i16x8.max_u (local.get $keyMax) (local.get $key)))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $prev (i32.add (local.get $prev) (i32.const 16)))
        (local.set $low (i32.add (local.get $low) (i32.const 8)))
        (local.set $keys (i32.add (local.get $keys) (i32.const 16)))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step)))
    ;; the smallest and largest over the lanes (u16 lanes hold no sign)
    (local.set $keyMin (i16x8.min_u (local.get $keyMin) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $keyMin) (local.get $keyMin))))
    (local.set $keyMin (i16x8.min_u (local.get $keyMin) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $keyMin) (local.get $keyMin))))
    (local.set $keyMin (i16x8.min_u (local.get $keyMin) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $keyMin) (local.get $keyMin))))
    (local.set $keyMax (i16x8.max_u (local.get $keyMax) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $keyMax) (local.get $keyMax))))
    (local.set $keyMax (i16x8.max_u (local.get $keyMax) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $keyMax) (local.get $keyMax))))
    (local.set $keyMax (i16x8.max_u (local.get $keyMax) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $keyMax) (local.get $keyMax))))
    (i32.store (local.get $out) (i16x8.extract_lane_u 0 (local.get $keyMin)))
    (i32.store offset=4 (local.get $out) (i16x8.extract_lane_u 0 (local.get $keyMax))))

  ;; The strong delta's residuals for 16-bit floats, 8 elements a step: z = zigzag(ulp(next) - pred),
  ;; pred = ulp(base) + ((beta * (ulp(base) - ulp(prev)) + 128) >> 8) modulo 2^16 (prev = base and
  ;; beta = 0 without an older base), in place of the new values at $next. The caller pads $base,
  ;; $prev and $next to a multiple of 8 elements by repeating the last one.
  (func (export "residual16") (param $base i32) (param $prev i32) (param $next i32) (param $n i32) (param $beta i32)
    (local $steps i32) (local $w v128) (local $v v128) (local $p v128) (local $d v128) (local $betas v128)
    (local.set $betas (i16x8.splat (local.get $beta)))
    (local.set $steps (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (local.set $w (v128.load (local.get $next)))
        (local.set $v (v128.load (local.get $base)))
        (local.set $p (v128.load (local.get $prev)))
        (local.set $w (v128.xor (local.get $w) (v128.and (i16x8.shr_s (local.get $w) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $v (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $p (v128.xor (local.get $p) (v128.and (i16x8.shr_s (local.get $p) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $d
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29
            (i32x4.shr_s (i32x4.add (i32x4.extmul_low_i16x8_s (i16x8.sub (local.get $v) (local.get $p)) (local.get $betas)) (v128.const i32x4 128 128 128 128)) (i32.const 8))
            (i32x4.shr_s (i32x4.add (i32x4.extmul_high_i16x8_s (i16x8.sub (local.get $v) (local.get $p)) (local.get $betas)) (v128.const i32x4 128 128 128 128)) (i32.const 8))))
        (local.set $w (i16x8.sub (local.get $w) (i16x8.add (local.get $v) (local.get $d))))
        (v128.store (local.get $next) (v128.xor (i16x8.shl (local.get $w) (i32.const 1)) (i16x8.shr_s (local.get $w) (i32.const 15))))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $prev (i32.add (local.get $prev) (i32.const 16)))
        (local.set $next (i32.add (local.get $next) (i32.const 16)))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step))))

  ;; The signs of residuals given as zigzagged u16 at $z (0, odd: -1, even: +1), as i8 at $out,
  ;; 8 a step (whole steps: the caller pads).
  (func (export "signs16") (param $z i32) (param $n i32) (param $out i32)
    (local $steps i32) (local $v v128)
    (local.set $steps (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (local.set $v (v128.load (local.get $z)))
        ;; (z != 0) & (1 | -(z & 1))
        (v128.store64_lane 0 (local.get $out) (i8x16.narrow_i16x8_s
          (v128.and (v128.not (i16x8.eq (local.get $v) (v128.const i16x8 0 0 0 0 0 0 0 0)))
            (v128.or (v128.const i16x8 1 1 1 1 1 1 1 1)
              (i16x8.sub (v128.const i16x8 0 0 0 0 0 0 0 0) (v128.and (local.get $v) (v128.const i16x8 1 1 1 1 1 1 1 1)))))
          (local.get $v)))
        (local.set $z (i32.add (local.get $z) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step))))

  ;; Per row of a rows x cols matrix of signs (i8 at $signs, row after row; up to 7 bytes past the
  ;; end are read), its products with the 4 columns of V (4 planes of $stride i16 at $v, zero past
  ;; the last column): 4 i32 per row at $out.
  (func (export "rowDots") (param $signs i32) (param $v i32) (param $stride i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s v128) (local $c i32) (local $at i32) (local $col i32)
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.eqz (local.get $rows)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (local.set $at (local.get $signs))
        (local.set $col (local.get $v))
        (block $colsDone
          (loop $step
            (br_if $colsDone (i32.ge_u (local.get $c) (local.get $cols)))
            (local.set $s (i16x8.extend_low_i8x16_s (v128.load64_zero (local.get $at))))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $s) (v128.load (local.get $col)))))
            (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $s) (v128.load (i32.add (local.get $col) (local.get $stride))))))
            (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $s) (v128.load (i32.add (local.get $col) (i32.shl (local.get $stride) (i32.const 1)))))))
            (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $s) (v128.load (i32.add (local.get $col) (i32.mul (local.get $stride) (i32.const 3)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (local.set $at (i32.add (local.get $at) (i32.const 8)))
            (local.set $col (i32.add (local.get $col) (i32.const 16)))
            (br $step)))
        (i32.store offset=0 (local.get $out) (i32.add (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
          (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0)))))
        (i32.store offset=4 (local.get $out) (i32.add (i32.add (i32x4.extract_lane 0 (local.get $a1)) (i32x4.extract_lane 1 (local.get $a1)))
          (i32.add (i32x4.extract_lane 2 (local.get $a1)) (i32x4.extract_lane 3 (local.get $a1)))))
        (i32.store offset=8 (local.get $out) (i32.add (i32.add (i32x4.extract_lane 0 (local.get $a2)) (i32x4.extract_lane 1 (local.get $a2)))
          (i32.add (i32x4.extract_lane 2 (local.get $a2)) (i32x4.extract_lane 3 (local.get $a2)))))
        (i32.store offset=12 (local.get $out) (i32.add (i32.add (i32x4.extract_lane 0 (local.get $a3)) (i32x4.extract_lane 1 (local.get $a3)))
          (i32.add (i32x4.extract_lane 2 (local.get $a3)) (i32x4.extract_lane 3 (local.get $a3)))))
        (local.set $signs (i32.add (local.get $signs) (local.get $cols)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; The strong delta's first pass for 16-bit floats (src/delta/residual-encode.ts documents the tokens),
  ;; given the context keys at $keys (keys16) and the residuals z at $residuals (residual16): per
  ;; element z, negated where the low-rank context value at $low says so (zeros without a model; z
  ;; is rewritten in place), its hybrid-uint token (bytes at $tokens; $signed = 1: the signed tokens
  ;; of a low-rank model), its raw low bits (LSB first at $raw, 8 bytes of slack) and a count in
  ;; $hist[(key << $histShift) | token] (i32). Writes the raw bit count and the checksum sums s1 (of
  ;; z, complemented where negated), s2 as i32 at $out.
  ;; The arithmetic runs 8 elements a step in SIMD (whole steps: the caller pads), then the serial
  ;; part (raw bits, counts, checksum) two elements a step.
  (func (export "tokens16") (param $residuals i32) (param $n i32) (param $tokens i32) (param $keys i32)
    (param $raw i32) (param $hist i32) (param $low i32) (param $signed i32) (param $histShift i32) (param $out i32)
    (local $steps i32) (local $r v128) (local $z v128) (local $t v128)
    (local $m v128) (local $signs v128) (local $tokenAt i32) (local $lowAt i32) (local $i i32) (local $at i32)
    (local $z0 i32) (local $z1 i32) (local $t0 i32) (local $t1 i32) (local $k0 i32) (local $k1 i32) (local $b0 i32) (local $b1 i32)
    (local $second i32) (local $off i32) (local $flush i32) (local $rawAt i32) (local $h i32) (local $s1 i32) (local $s2 i32) (local $acc i64)
    (local.set $signs (i16x8.splat (i32.sub (i32.const 0) (local.get $signed))))
    (local.set $lowAt (local.get $low))
    (local.set $steps (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (local.set $at (local.get $residuals))
    (local.set $tokenAt (local.get $tokens))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        ;; negated where the context value has its flip bit: m = -1 there
        (local.set $m (i16x8.sub (v128.const i16x8 0 0 0 0 0 0 0 0) (v128.and
          (i16x8.shr_u (i16x8.extend_low_i8x16_u (v128.load64_zero (local.get $lowAt))) (i32.const 2)) (v128.const i16x8 1 1 1 1 1 1 1 1))))
        (local.set $z (v128.load (local.get $at)))
        (local.set $r (v128.xor (i16x8.shr_u (local.get $z) (i32.const 1))
          (i16x8.sub (v128.const i16x8 0 0 0 0 0 0 0 0) (v128.and (local.get $z) (v128.const i16x8 1 1 1 1 1 1 1 1)))))
        (local.set $r (i16x8.sub (v128.xor (local.get $r) (local.get $m)) (local.get $m)))
        (local.set $z (v128.xor (i16x8.shl (local.get $r) (i32.const 1)) (i16x8.shr_s (local.get $r) (i32.const 15))))
        (v128.store (local.get $at) (local.get $z))
        ;; token: z below 16 as it is; else 4n + the 2 bits under the leading one (bit n), which are the
        ;; float32 of z's exponent and top two mantissa bits: (bits >> 21) - (127 << 2)
        (local.set $t (i16x8.narrow_i32x4_s
          (i32x4.sub (i32x4.shr_u (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $z))) (i32.const 21)) (v128.const i32x4 508 508 508 508))
          (i32x4.sub (i32x4.shr_u (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $z))) (i32.const 21)) (v128.const i32x4 508 508 508 508))))
        ;; signed tokens: 2t - 16 + (z & 1), the sign (z's lowest bit) in the token
        (local.set $t (i16x8.add (local.get $t) (v128.and (local.get $signs)
          (i16x8.add (i16x8.sub (local.get $t) (v128.const i16x8 16 16 16 16 16 16 16 16)) (v128.and (local.get $z) (v128.const i16x8 1 1 1 1 1 1 1 1))))))
        (local.set $t (v128.bitselect (local.get $t) (local.get $z) (i16x8.gt_u (local.get $z) (v128.const i16x8 15 15 15 15 15 15 15 15))))
        (v128.store64_lane 0 (local.get $tokenAt) (i8x16.narrow_i16x8_u (local.get $t) (local.get $t)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $tokenAt (i32.add (local.get $tokenAt) (i32.const 8)))
        (local.set $lowAt (i32.add (local.get $lowAt) (i32.const 8)))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step)))
    (local.set $i (i32.const 0))
    ;; Two elements a step (the second absent, $second = 0, past the end), so that the raw bits are
    ;; appended once per pair: the append is a chain from element to element.
    (local.set $rawAt (local.get $raw))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $second (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $n))))
        ;; per element: checksum (z complemented where negated), k = n - 2 raw bits of z >> signed for
        ;; tokens from 16 on (t = 4n + m, or 8(n - 1) + 2m + sign when signed): (t - 8) >> (2 + signed),
        ;; none below 16; and its count
        (local.set $z0 (i32.load16_u (local.get $residuals)))
        (local.set $t0 (i32.load8_u (i32.add (local.get $tokens) (local.get $i))))
        (local.set $s1 (i32.add (local.get $s1) (i32.xor (local.get $z0)
          (i32.sub (i32.const 0) (i32.and (i32.shr_u (i32.load8_u (i32.add (local.get $low) (local.get $i))) (i32.const 2)) (i32.const 1))))))
        (local.set $s2 (i32.add (local.get $s2) (local.get $s1)))
        (local.set $k0 (i32.and (i32.shr_s (i32.sub (local.get $t0) (i32.const 8)) (i32.add (i32.const 2) (local.get $signed)))
          (i32.shr_s (i32.sub (i32.const 15) (local.get $t0)) (i32.const 31))))
        (local.set $b0 (i32.and (i32.shr_u (local.get $z0) (local.get $signed)) (i32.sub (i32.shl (i32.const 1) (local.get $k0)) (i32.const 1))))
        (local.set $h (i32.add (local.get $hist)
          (i32.shl (i32.or (i32.shl (i32.load16_u (local.get $keys)) (local.get $histShift)) (local.get $t0)) (i32.const 2))))
        (i32.store (local.get $h) (i32.add (i32.load (local.get $h)) (i32.const 1)))
        (local.set $z1 (i32.load16_u offset=2 (local.get $residuals)))
        (local.set $t1 (i32.load8_u offset=1 (i32.add (local.get $tokens) (local.get $i))))
        (local.set $s1 (i32.add (local.get $s1) (i32.and (i32.xor (local.get $z1)
          (i32.sub (i32.const 0) (i32.and (i32.shr_u (i32.load8_u offset=1 (i32.add (local.get $low) (local.get $i))) (i32.const 2)) (i32.const 1)))) (local.get $second))))
        (local.set $s2 (i32.add (local.get $s2) (i32.and (local.get $s1) (local.get $second))))
        (local.set $k1 (i32.and (i32.and (i32.shr_s (i32.sub (local.get $t1) (i32.const 8)) (i32.add (i32.const 2) (local.get $signed)))
          (i32.shr_s (i32.sub (i32.const 15) (local.get $t1)) (i32.const 31))) (local.get $second)))
        (local.set $b1 (i32.and (i32.shr_u (local.get $z1) (local.get $signed)) (i32.sub (i32.shl (i32.const 1) (local.get $k1)) (i32.const 1))))
        (local.set $h (i32.add (local.get $hist)
          (i32.shl (i32.or (i32.shl (i32.load16_u offset=2 (local.get $keys)) (local.get $histShift)) (local.get $t1)) (i32.const 2))))
        (i32.store (local.get $h) (i32.add (i32.load (local.get $h)) (i32.and (local.get $second) (i32.const 1))))
        (local.set $acc (i64.or (local.get $acc)
          (i64.shl (i64.extend_i32_u (i32.or (local.get $b0) (i32.shl (local.get $b1) (local.get $k0)))) (i64.extend_i32_u (local.get $off)))))
        (local.set $off (i32.add (local.get $off) (i32.add (local.get $k0) (local.get $k1))))
        ;; the low 32 bits are stored every time and moved past once full
        (i32.store (local.get $rawAt) (i32.wrap_i64 (local.get $acc)))
        (local.set $flush (i32.shr_u (local.get $off) (i32.const 5)))
        (local.set $rawAt (i32.add (local.get $rawAt) (i32.shl (local.get $flush) (i32.const 2))))
        (local.set $acc (i64.shr_u (local.get $acc) (i64.extend_i32_u (i32.shl (local.get $flush) (i32.const 5)))))
        (local.set $off (i32.and (local.get $off) (i32.const 31)))
        (local.set $residuals (i32.add (local.get $residuals) (i32.const 4)))
        (local.set $keys (i32.add (local.get $keys) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $step)))
    (i64.store (local.get $rawAt) (local.get $acc))
    (i32.store (local.get $out) (i32.add (i32.shl (i32.sub (local.get $rawAt) (local.get $raw)) (i32.const 3)) (local.get $off)))
    (i32.store offset=4 (local.get $out) (local.get $s1))
    (i32.store offset=8 (local.get $out) (local.get $s2)))

  ;; rANS, the hot loops of src/codec/rans.ts (which documents the coder): four interleaved states,
  ;; symbol i with state i & 3, kept as four i32 at $states. The context of symbol i is
  ;; $map[$keys[i]] (u8 map of 65536 entries, u16 keys).
  ;; Encoder: runs from the last symbol to the first and writes 16-bit words downwards, ending
  ;; before byte address $end; returns the address of the first word written, or 0 if a symbol has
  ;; no frequency in its context. Table entry (context << $shift | symbol), 16 bytes: the largest
  ;; state needing no renormalization, then the division by the frequency as a multiply by a
  ;; reciprocal (ryg_rans: q = x * rcp >> (32 + rshift), exact for x < 2^31), the bias (cum, plus
  ;; M - 1 when the frequency is 1) and M - freq | (32 + rshift) << 16 (0 for an absent symbol).
  (func (export "ransEncode") (param $symbols i32) (param $keys i32) (param $map i32) (param $n i32) (param $table i32)
    (param $shift i32) (param $states i32) (param $end i32) (result i32)
    (local $keyAt i32) (local $symbolAt i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $e i32) (local $w i32) (local $b i32) (local $bad i32) (local $pos i32)
    (local.set $pos (local.get $end))
    (local.set $x0 (i32.load offset=0 (local.get $states)))
    (local.set $x1 (i32.load offset=4 (local.get $states)))
    (local.set $x2 (i32.load offset=8 (local.get $states)))
    (local.set $x3 (i32.load offset=12 (local.get $states)))
    ;; the last n & 3 symbols, each with its state (symbol i with state i & 3), from the last one
    (local.set $keyAt (i32.add (local.get $keys) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 1))))
    (local.set $symbolAt (i32.add (local.get $symbols) (i32.and (local.get $n) (i32.const -4))))
    (block $tail
      (br_if $tail (i32.lt_u (i32.and (local.get $n) (i32.const 3)) (i32.const 3)))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=4 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=2 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x2)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x2))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x2 (i32.shr_u (local.get $x2) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x2
          (i32.add
            (i32.add (local.get $x2) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x2)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
    )
    (block $tail
      (br_if $tail (i32.lt_u (i32.and (local.get $n) (i32.const 3)) (i32.const 2)))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=2 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=1 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x1)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x1))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x1 (i32.shr_u (local.get $x1) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x1
          (i32.add
            (i32.add (local.get $x1) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x1)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
    )
    (block $tail
      (br_if $tail (i32.eqz (i32.and (local.get $n) (i32.const 3))))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=0 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=0 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x0)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x0))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x0 (i32.shr_u (local.get $x0) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x0
          (i32.add
            (i32.add (local.get $x0) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x0)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
    )
    ;; then four symbols a step, states 3, 2, 1, 0
    (block $done
      (loop $step
        (br_if $done (i32.eq (local.get $symbolAt) (local.get $symbols)))
        (local.set $keyAt (i32.sub (local.get $keyAt) (i32.const 8)))
        (local.set $symbolAt (i32.sub (local.get $symbolAt) (i32.const 4)))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=6 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=3 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x3)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x3))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x3 (i32.shr_u (local.get $x3) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x3
          (i32.add
            (i32.add (local.get $x3) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x3)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=4 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=2 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x2)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x2))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x2 (i32.shr_u (local.get $x2) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x2
          (i32.add
            (i32.add (local.get $x2) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x2)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=2 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=1 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x1)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x1))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x1 (i32.shr_u (local.get $x1) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x1
          (i32.add
            (i32.add (local.get $x1) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x1)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
        (local.set $e (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=0 (local.get $keyAt)))) (local.get $shift))
            (i32.load8_u offset=0 (local.get $symbolAt)))
          (i32.const 4))))
        (local.set $w (i32.load offset=12 (local.get $e)))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (local.get $w))))
        (local.set $b (i32.shr_s (i32.sub (i32.load (local.get $e)) (local.get $x0)) (i32.const 31)))
        (i32.store16 (i32.sub (local.get $pos) (i32.const 2)) (local.get $x0))
        (local.set $pos (i32.add (local.get $pos) (i32.shl (local.get $b) (i32.const 1))))
        (local.set $x0 (i32.shr_u (local.get $x0) (i32.and (local.get $b) (i32.const 16))))
        (local.set $x0
          (i32.add
            (i32.add (local.get $x0) (i32.load offset=8 (local.get $e)))
            (i32.mul
              (i32.wrap_i64 (i64.shr_u
                (i64.mul (i64.extend_i32_u (local.get $x0)) (i64.extend_i32_u (i32.load offset=4 (local.get $e))))
                (i64.extend_i32_u (i32.shr_u (local.get $w) (i32.const 16)))))
              (i32.and (local.get $w) (i32.const 0xffff)))))
        (br $step)))
    (i32.store offset=0 (local.get $states) (local.get $x0))
    (i32.store offset=4 (local.get $states) (local.get $x1))
    (i32.store offset=8 (local.get $states) (local.get $x2))
    (i32.store offset=12 (local.get $states) (local.get $x3))
    (select (i32.const 0) (local.get $pos) (local.get $bad)))

  ;; Decoder: symbols 0 .. $n - 1 into $out from the words at $words (u16; the states already taken
  ;; from the first four pairs, at $states) starting at word $pos, reading no further than word $end
  ;; + 1 (the caller provides spare zero words). Table: 4096 i32 per context, slot -> symbol |
  ;; (freq - 1) << 8 | cum << 20. Returns the number of symbols decoded; the word position
  ;; reached is stored after the states.
  (func (export "ransDecode") (param $words i32) (param $pos i32) (param $end i32) (param $keys i32) (param $map i32)
    (param $table i32) (param $out i32) (param $n i32) (param $states i32) (result i32)
    (local $keyAt i32) (local $outAt i32) (local $stop i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $e0 i32) (local $e1 i32) (local $e2 i32) (local $e3 i32) (local $r i32)
    (local.set $x0 (i32.load offset=0 (local.get $states)))
    (local.set $x1 (i32.load offset=4 (local.get $states)))
    (local.set $x2 (i32.load offset=8 (local.get $states)))
    (local.set $x3 (i32.load offset=12 (local.get $states)))
    (local.set $keyAt (local.get $keys))
    (local.set $outAt (local.get $out))
    (local.set $stop (i32.add (local.get $out) (i32.and (local.get $n) (i32.const -4))))
    ;; four symbols a step (states 0 to 3), then renormalization in the same order; a step reads at
    ;; most four words, from word $pos <= $end on
    (block $done
      (loop $step
        (br_if $done (i32.eq (local.get $outAt) (local.get $stop)))
        (br_if $done (i32.gt_u (local.get $pos) (local.get $end)))
        (local.set $e0 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=0 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x0) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=0 (local.get $outAt) (local.get $e0))
        (local.set $x0 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e0) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x0) (i32.const 12)))
            (i32.and (local.get $x0) (i32.const 4095)))
          (i32.shr_u (local.get $e0) (i32.const 20))))
        (local.set $e1 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=2 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x1) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=1 (local.get $outAt) (local.get $e1))
        (local.set $x1 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e1) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x1) (i32.const 12)))
            (i32.and (local.get $x1) (i32.const 4095)))
          (i32.shr_u (local.get $e1) (i32.const 20))))
        (local.set $e2 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=4 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x2) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=2 (local.get $outAt) (local.get $e2))
        (local.set $x2 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e2) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x2) (i32.const 12)))
            (i32.and (local.get $x2) (i32.const 4095)))
          (i32.shr_u (local.get $e2) (i32.const 20))))
        (local.set $e3 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=6 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x3) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=3 (local.get $outAt) (local.get $e3))
        (local.set $x3 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e3) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x3) (i32.const 12)))
            (i32.and (local.get $x3) (i32.const 4095)))
          (i32.shr_u (local.get $e3) (i32.const 20))))
        (local.set $r (i32.shr_s (i32.sub (local.get $x0) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x0 (i32.or
          (i32.shl (local.get $x0) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
        (local.set $r (i32.shr_s (i32.sub (local.get $x1) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x1 (i32.or
          (i32.shl (local.get $x1) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
        (local.set $r (i32.shr_s (i32.sub (local.get $x2) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x2 (i32.or
          (i32.shl (local.get $x2) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
        (local.set $r (i32.shr_s (i32.sub (local.get $x3) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x3 (i32.or
          (i32.shl (local.get $x3) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
        (local.set $keyAt (i32.add (local.get $keyAt) (i32.const 8)))
        (local.set $outAt (i32.add (local.get $outAt) (i32.const 4)))
        (br $step)))
    ;; the last n & 3 symbols (states 0, 1, 2), unless the words ran out
    (local.set $stop (i32.add (local.get $out) (local.get $n)))
    (block $tail
      (br_if $tail (i32.eq (local.get $outAt) (local.get $stop)))
      (br_if $tail (i32.gt_u (local.get $pos) (local.get $end)))
        (local.set $e0 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=0 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x0) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=0 (local.get $outAt) (local.get $e0))
        (local.set $x0 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e0) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x0) (i32.const 12)))
            (i32.and (local.get $x0) (i32.const 4095)))
          (i32.shr_u (local.get $e0) (i32.const 20))))
        (local.set $r (i32.shr_s (i32.sub (local.get $x0) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x0 (i32.or
          (i32.shl (local.get $x0) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
      (local.set $keyAt (i32.add (local.get $keyAt) (i32.const 2)))
      (local.set $outAt (i32.add (local.get $outAt) (i32.const 1)))
      (br_if $tail (i32.eq (local.get $outAt) (local.get $stop)))
      (br_if $tail (i32.gt_u (local.get $pos) (local.get $end)))
        (local.set $e1 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=0 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x1) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=0 (local.get $outAt) (local.get $e1))
        (local.set $x1 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e1) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x1) (i32.const 12)))
            (i32.and (local.get $x1) (i32.const 4095)))
          (i32.shr_u (local.get $e1) (i32.const 20))))
        (local.set $r (i32.shr_s (i32.sub (local.get $x1) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x1 (i32.or
          (i32.shl (local.get $x1) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
      (local.set $keyAt (i32.add (local.get $keyAt) (i32.const 2)))
      (local.set $outAt (i32.add (local.get $outAt) (i32.const 1)))
      (br_if $tail (i32.eq (local.get $outAt) (local.get $stop)))
      (br_if $tail (i32.gt_u (local.get $pos) (local.get $end)))
        (local.set $e2 (i32.load (i32.add (local.get $table) (i32.shl
          (i32.or
            (i32.shl (i32.load8_u (i32.add (local.get $map) (i32.load16_u offset=0 (local.get $keyAt)))) (i32.const 12))
            (i32.and (local.get $x2) (i32.const 4095)))
          (i32.const 2)))))
        (i32.store8 offset=0 (local.get $outAt) (local.get $e2))
        (local.set $x2 (i32.sub
          (i32.add
            (i32.mul (i32.add (i32.and (i32.shr_u (local.get $e2) (i32.const 8)) (i32.const 4095)) (i32.const 1)) (i32.shr_u (local.get $x2) (i32.const 12)))
            (i32.and (local.get $x2) (i32.const 4095)))
          (i32.shr_u (local.get $e2) (i32.const 20))))
        (local.set $r (i32.shr_s (i32.sub (local.get $x2) (i32.const 0x8000)) (i32.const 31)))
        (local.set $x2 (i32.or
          (i32.shl (local.get $x2) (i32.and (local.get $r) (i32.const 16)))
          (i32.and (i32.load16_u (i32.add (local.get $words) (i32.shl (local.get $pos) (i32.const 1)))) (local.get $r))))
        (local.set $pos (i32.sub (local.get $pos) (local.get $r)))
      (local.set $outAt (i32.add (local.get $outAt) (i32.const 1))))
    (i32.store offset=0 (local.get $states) (local.get $x0))
    (i32.store offset=4 (local.get $states) (local.get $x1))
    (i32.store offset=8 (local.get $states) (local.get $x2))
    (i32.store offset=12 (local.get $states) (local.get $x3))
    (i32.store offset=16 (local.get $states) (local.get $pos))
    (i32.sub (local.get $outAt) (local.get $out)))

  ;; The strong delta's decoder for 16-bit floats (rebuild16 in src/delta/passes16.ts): tokens
  ;; ($signed = 1: a low-rank model's signed tokens) and raw bits back to z values (serial, u16 at
  ;; $z), then the elements in SIMD, in place at $z: v = pred + unzigzag(z), negated where the
  ;; context value at $low says so (zeros without a model), element = ulp(v). Stops early once the raw bits run out ($rawBits; the
  ;; caller provides 4 spare bytes). $n is rounded up to whole steps of 8 for the SIMD pass
  ;; ($base, $prev and $z have room). Writes the raw bits consumed and the checksum sums s1, s2 as
  ;; three i32 at $out.
  (func (export "rebuild16") (param $base i32) (param $prev i32) (param $tokens i32) (param $raw i32) (param $rawBits i32)
    (param $z i32) (param $n i32) (param $beta i32) (param $low i32) (param $signed i32) (param $out i32)
    (local $m v128) (local $lowAt i32) (local $i i32) (local $t i32) (local $big i32) (local $k i32) (local $off i32) (local $zi i32) (local $s1 i32) (local $s2 i32)
    (local $at i32) (local $steps i32) (local $v v128) (local $p v128) (local $d v128) (local $r v128) (local $betas v128)
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $t (i32.load8_u (i32.add (local.get $tokens) (local.get $i))))
        ;; tokens from 16 on carry k = n - 2 raw bits (at most 14) of z >> signed, read from the 32 bits
        ;; at word off >> 4 (see tokens16)
        (local.set $big (i32.shr_s (i32.sub (i32.const 15) (local.get $t)) (i32.const 31)))
        (local.set $k (i32.and (i32.shr_s (i32.sub (local.get $t) (i32.const 8)) (i32.add (i32.const 2) (local.get $signed))) (local.get $big)))
        (local.set $zi (i32.xor (local.get $t) (i32.and (local.get $big) (i32.xor (local.get $t)
          (i32.or
            (i32.shl
              (i32.or
                (i32.shl (i32.or (i32.const 4) (i32.and (i32.shr_u (local.get $t) (local.get $signed)) (i32.const 3))) (local.get $k))
                (i32.and
                  (i32.shr_u (i32.load (i32.add (local.get $raw) (i32.shl (i32.shr_u (local.get $off) (i32.const 4)) (i32.const 1))))
                    (i32.and (local.get $off) (i32.const 15)))
                  (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1))))
              (local.get $signed))
            (i32.and (local.get $t) (local.get $signed)))))))
        (local.set $off (i32.add (local.get $off) (local.get $k)))
        ;; the checksum takes z complemented where the residual is negated
        (local.set $s1 (i32.add (local.get $s1) (i32.xor (local.get $zi)
          (i32.sub (i32.const 0) (i32.and (i32.shr_u (i32.load8_u (i32.add (local.get $low) (local.get $i))) (i32.const 2)) (i32.const 1))))))
        (local.set $s2 (i32.add (local.get $s2) (local.get $s1)))
        (i32.store16 (i32.add (local.get $z) (i32.shl (local.get $i) (i32.const 1))) (local.get $zi))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $done (i32.gt_u (local.get $off) (local.get $rawBits)))
        (br $step)))
    (i32.store (local.get $out) (local.get $off))
    (i32.store offset=4 (local.get $out) (local.get $s1))
    (i32.store offset=8 (local.get $out) (local.get $s2))
    (local.set $betas (i16x8.splat (local.get $beta)))
    (local.set $steps (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (local.set $at (local.get $z))
    (local.set $lowAt (local.get $low))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (local.set $v (v128.load (local.get $base)))
        (local.set $p (v128.load (local.get $prev)))
        (local.set $v (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $p (v128.xor (local.get $p) (v128.and (i16x8.shr_s (local.get $p) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $d (i16x8.sub (local.get $v) (local.get $p)))
        (local.set $d
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29
            (i32x4.shr_s (i32x4.add (i32x4.extmul_low_i16x8_s (local.get $d) (local.get $betas)) (v128.const i32x4 128 128 128 128)) (i32.const 8))
            (i32x4.shr_s (i32x4.add (i32x4.extmul_high_i16x8_s (local.get $d) (local.get $betas)) (v128.const i32x4 128 128 128 128)) (i32.const 8))))
        (local.set $r (v128.load (local.get $at)))
        (local.set $r (v128.xor (i16x8.shr_u (local.get $r) (i32.const 1))
          (i16x8.sub (v128.const i16x8 0 0 0 0 0 0 0 0) (v128.and (local.get $r) (v128.const i16x8 1 1 1 1 1 1 1 1)))))
        (local.set $m (i16x8.sub (v128.const i16x8 0 0 0 0 0 0 0 0) (v128.and
          (i16x8.shr_u (i16x8.extend_low_i8x16_u (v128.load64_zero (local.get $lowAt))) (i32.const 2)) (v128.const i16x8 1 1 1 1 1 1 1 1))))
        (local.set $r (i16x8.sub (v128.xor (local.get $r) (local.get $m)) (local.get $m)))
        (local.set $v (i16x8.add (i16x8.add (local.get $v) (local.get $d)) (local.get $r)))
        (v128.store (local.get $at)
          (v128.xor (local.get $v) (v128.and (i16x8.shr_s (local.get $v) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $prev (i32.add (local.get $prev) (i32.const 16)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $lowAt (i32.add (local.get $lowAt) (i32.const 8)))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step))))

  ;; The low-rank model's context value per element (src/delta/lowrank.ts): for row r and column c,
  ;; P = sum over k of U[r][k] V[c][k] (U as 4 i16 per row at $u, V as 4 planes of $stride i16 at
  ;; $v, zero past the last column), value = [|P| > t1] + [|P| > t2] + [|P| > t3] + 4 [P < 0], as
  ;; bytes at $out, row after row ($cols a row; 8 columns a step, so up to 7 bytes past the end are
  ;; written too).
  (func (export "lowRank16") (param $u i32) (param $v i32) (param $stride i32) (param $rows i32) (param $cols i32)
    (param $t1 i32) (param $t2 i32) (param $t3 i32) (param $out i32)
    (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128) (local $th1 v128) (local $th2 v128) (local $th3 v128)
    (local $p v128) (local $a v128) (local $c i32) (local $at i32) (local $col i32)
    (local.set $th1 (i16x8.splat (local.get $t1)))
    (local.set $th2 (i16x8.splat (local.get $t2)))
    (local.set $th3 (i16x8.splat (local.get $t3)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.eqz (local.get $rows)))
        (local.set $u0 (i16x8.splat (i32.load16_s (local.get $u))))
        (local.set $u1 (i16x8.splat (i32.load16_s offset=2 (local.get $u))))
        (local.set $u2 (i16x8.splat (i32.load16_s offset=4 (local.get $u))))
        (local.set $u3 (i16x8.splat (i32.load16_s offset=6 (local.get $u))))
        (local.set $c (i32.const 0))
        (local.set $col (local.get $v))
        (local.set $at (local.get $out))
        (block $colsDone
          (loop $step
            (br_if $colsDone (i32.ge_u (local.get $c) (local.get $cols)))
            (local.set $p (i16x8.add
              (i16x8.add (i16x8.mul (local.get $u0) (v128.load (local.get $col)))
                (i16x8.mul (local.get $u1) (v128.load (i32.add (local.get $col) (local.get $stride)))))
              (i16x8.add (i16x8.mul (local.get $u2) (v128.load (i32.add (local.get $col) (i32.shl (local.get $stride) (i32.const 1)))))
                (i16x8.mul (local.get $u3) (v128.load (i32.add (local.get $col) (i32.mul (local.get $stride) (i32.const 3))))))))
            (local.set $a (i16x8.abs (local.get $p)))
            (v128.store64_lane 0 (local.get $at) (i8x16.narrow_i16x8_u
              (v128.or
                (i16x8.sub (i16x8.sub (i16x8.sub (v128.const i16x8 0 0 0 0 0 0 0 0)
                  (i16x8.gt_s (local.get $a) (local.get $th1))) (i16x8.gt_s (local.get $a) (local.get $th2))) (i16x8.gt_s (local.get $a) (local.get $th3)))
                (v128.and (i16x8.lt_s (local.get $p) (v128.const i16x8 0 0 0 0 0 0 0 0)) (v128.const i16x8 4 4 4 4 4 4 4 4)))
              (local.get $p)))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (local.set $col (i32.add (local.get $col) (i32.const 16)))
            (local.set $at (i32.add (local.get $at) (i32.const 8)))
            (br $step)))
        (local.set $u (i32.add (local.get $u) (i32.const 8)))
        (local.set $out (i32.add (local.get $out) (local.get $cols)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; The largest of the $n bytes at $at ($n a multiple of 16).
  (func (export "maxByte") (param $at i32) (param $n i32) (result i32)
    (local $m v128) (local $end i32)
    (local.set $end (i32.add (local.get $at) (local.get $n)))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $m (i8x16.max_u (local.get $m) (v128.load (local.get $at))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $step)))
    (local.set $m (i8x16.max_u (local.get $m) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
    (local.set $m (i8x16.max_u (local.get $m) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $m) (local.get $m))))
    (local.set $m (i8x16.max_u (local.get $m) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $m) (local.get $m))))
    (local.set $m (i8x16.max_u (local.get $m) (i8x16.shuffle 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 (local.get $m) (local.get $m))))
    (i8x16.extract_lane_u 0 (local.get $m)))

  ;; Fitting the low-rank model (src/delta/lowrank.ts), on the m sampled rows of signs (i8, cols a
  ;; row, at $signs), in f64 with the same order of operations as plain code would use.
  ;; w (m x 4) = S v (v: cols x 4), two components a step.
  (func (export "subspaceMultiply") (param $signs i32) (param $m i32) (param $cols i32) (param $v i32) (param $w i32)
    (local $a01 v128) (local $a23 v128) (local $s v128) (local $j i32) (local $q i32)
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.eqz (local.get $m)))
        (local.set $a01 (f64x2.splat (f64.const 0)))
        (local.set $a23 (f64x2.splat (f64.const 0)))
        (local.set $j (i32.const 0))
        (local.set $q (local.get $v))
        (block $done
          (loop $step
            (br_if $done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $s (f64x2.splat (f64.convert_i32_s (i32.load8_s (i32.add (local.get $signs) (local.get $j))))))
            (local.set $a01 (f64x2.add (local.get $a01) (f64x2.mul (local.get $s) (v128.load (local.get $q)))))
            (local.set $a23 (f64x2.add (local.get $a23) (f64x2.mul (local.get $s) (v128.load offset=16 (local.get $q)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (br $step)))
        (v128.store (local.get $w) (local.get $a01))
        (v128.store offset=16 (local.get $w) (local.get $a23))
        (local.set $signs (i32.add (local.get $signs) (local.get $cols)))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (local.set $m (i32.sub (local.get $m) (i32.const 1)))
        (br $row))))

  ;; v (cols x 4) = S^T w, accumulated row after row (v starts at zero: the caller clears it).
  (func (export "subspaceMultiplyT") (param $signs i32) (param $m i32) (param $cols i32) (param $w i32) (param $v i32)
    (local $w01 v128) (local $w23 v128) (local $s v128) (local $j i32) (local $q i32)
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.eqz (local.get $m)))
        (local.set $w01 (v128.load (local.get $w)))
        (local.set $w23 (v128.load offset=16 (local.get $w)))
        (local.set $j (i32.const 0))
        (local.set $q (local.get $v))
        (block $done
          (loop $step
            (br_if $done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $s (f64x2.splat (f64.convert_i32_s (i32.load8_s (i32.add (local.get $signs) (local.get $j))))))
            (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.mul (local.get $s) (local.get $w01))))
            (v128.store offset=16 (local.get $q) (f64x2.add (v128.load offset=16 (local.get $q)) (f64x2.mul (local.get $s) (local.get $w23))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (br $step)))
        (local.set $signs (i32.add (local.get $signs) (local.get $cols)))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (local.set $m (i32.sub (local.get $m) (i32.const 1)))
        (br $row))))

  ;; Over the sampled rows (signs as above; U of sampled row t as 4 i16 at $u + 8t; V as 4 planes of
  ;; $stride i16 at $v): the histogram of |P| (i32 at $hist), then the count of nonzero signs and of
  ;; those P gets wrong (s P <= 0) as two i32 at $out.
  (func (export "sampleStats") (param $signs i32) (param $m i32) (param $cols i32) (param $u i32) (param $v i32) (param $stride i32)
    (param $hist i32) (param $out i32)
    (local $u0 i32) (local $u1 i32) (local $u2 i32) (local $u3 i32) (local $j i32) (local $q i32) (local $p i32) (local $s i32)
    (local $h i32) (local $nonzero i32) (local $wrong i32)
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.eqz (local.get $m)))
        (local.set $u0 (i32.load16_s (local.get $u)))
        (local.set $u1 (i32.load16_s offset=2 (local.get $u)))
        (local.set $u2 (i32.load16_s offset=4 (local.get $u)))
        (local.set $u3 (i32.load16_s offset=6 (local.get $u)))
        (local.set $j (i32.const 0))
        (local.set $q (local.get $v))
        (block $done
          (loop $step
            (br_if $done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $p (i32.add
              (i32.add (i32.mul (local.get $u0) (i32.load16_s (local.get $q)))
                (i32.mul (local.get $u1) (i32.load16_s (i32.add (local.get $q) (local.get $stride)))))
              (i32.add (i32.mul (local.get $u2) (i32.load16_s (i32.add (local.get $q) (i32.shl (local.get $stride) (i32.const 1)))))
                (i32.mul (local.get $u3) (i32.load16_s (i32.add (local.get $q) (i32.mul (local.get $stride) (i32.const 3))))))))
            (local.set $h (i32.add (local.get $hist) (i32.shl
              (select (i32.sub (i32.const 0) (local.get $p)) (local.get $p) (i32.lt_s (local.get $p) (i32.const 0))) (i32.const 2))))
            (i32.store (local.get $h) (i32.add (i32.load (local.get $h)) (i32.const 1)))
            (local.set $s (i32.load8_s (i32.add (local.get $signs) (local.get $j))))
            (local.set $nonzero (i32.add (local.get $nonzero) (i32.and (local.get $s) (i32.const 1))))
            (local.set $wrong (i32.add (local.get $wrong)
              (i32.and (i32.ne (local.get $s) (i32.const 0)) (i32.le_s (i32.mul (local.get $s) (local.get $p)) (i32.const 0)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (local.set $q (i32.add (local.get $q) (i32.const 2)))
            (br $step)))
        (local.set $signs (i32.add (local.get $signs) (local.get $cols)))
        (local.set $u (i32.add (local.get $u) (i32.const 8)))
        (local.set $m (i32.sub (local.get $m) (i32.const 1)))
        (br $row)))
    (i32.store (local.get $out) (local.get $nonzero))
    (i32.store offset=4 (local.get $out) (local.get $wrong)))
)
