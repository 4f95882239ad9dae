;; The strong delta's passes for 16-bit floats: keys16 (context keys), residual16 (residuals),
;; tokens16 (tokens, raw bits, counts) to encode and rebuild16 to decode, called from
;; src/delta/passes16.ts.

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
