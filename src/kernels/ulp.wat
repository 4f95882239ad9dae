;; The fast delta's kernels for 16-bit floats: ulpSplit16/ulpMerge16 (ULP residuals as byte planes
;; and back), called from src/delta/ulp.ts, and betaCost16 (the trend weight's cost), called from
;; src/delta/beta.ts.

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
