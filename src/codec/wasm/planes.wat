;; SIMD plane splits and merges, 16 elements per step. Callers pass element counts that are
;; multiples of 16 (as `groups` of 16) and finish any remainder with the plain-TS code.
;; Layouts are those of src/codec/planes.ts (bits16, bits32); see docs/FORMAT.md.
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

  ;; w = ((rest & 0x80) << 8) | (exp << 7) | (rest & 0x7f)
  (func $join16 (param $e v128) (param $r v128) (result v128)
    (v128.or
      (v128.or
        (i16x8.shl (v128.and (local.get $r) (v128.const i16x8 128 128 128 128 128 128 128 128)) (i32.const 8))
        (i16x8.shl (local.get $e) (i32.const 7)))
      (v128.and (local.get $r) (v128.const i16x8 127 127 127 127 127 127 127 127))))

  (func (export "merge16") (param $exp i32) (param $rest i32) (param $dst i32) (param $groups i32)
    (local $e v128) (local $r v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $e (v128.load (local.get $exp)))
        (local.set $r (v128.load (local.get $rest)))
        (v128.store (local.get $dst)
          (call $join16 (i16x8.extend_low_i8x16_u (local.get $e)) (i16x8.extend_low_i8x16_u (local.get $r))))
        (v128.store offset=16 (local.get $dst)
          (call $join16 (i16x8.extend_high_i8x16_u (local.get $e)) (i16x8.extend_high_i8x16_u (local.get $r))))
        (local.set $exp (i32.add (local.get $exp) (i32.const 16)))
        (local.set $rest (i32.add (local.get $rest) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $next))))

  ;; 32-bit elements. With $bits = 1 (fp32), each word first becomes bytes [low, mid,
  ;; sign|mantissa-high, exponent]; with $bits = 0 (plain `bytes4` planes) it stays as it is. Then a
  ;; 4x4 byte transpose puts bytes 0, 1, 2 and 3 of four elements in the four 32-bit lanes.
  (func $order32 (param $v v128) (param $bits i32) (result v128)
    (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15
      (select
        (v128.or
          (v128.or
            (v128.and (local.get $v) (v128.const i32x4 0x007fffff 0x007fffff 0x007fffff 0x007fffff))
            (v128.and (i32x4.shr_u (local.get $v) (i32.const 8)) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000)))
          (i32x4.shl (i32x4.shr_u (local.get $v) (i32.const 23)) (i32.const 24)))
        (local.get $v)
        (local.get $bits))
      (v128.const i32x4 0 0 0 0)))

  ;; Inverse of $order32 (the 4x4 byte transpose is its own inverse).
  (func $unorder32 (param $t v128) (param $bits i32) (result v128)
    (local.set $t (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $t) (v128.const i32x4 0 0 0 0)))
    (select
      (v128.or
        (v128.or
          (v128.and (local.get $t) (v128.const i32x4 0x007fffff 0x007fffff 0x007fffff 0x007fffff))
          (i32x4.shl (v128.and (local.get $t) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000)) (i32.const 8)))
        (i32x4.shl (i32x4.shr_u (local.get $t) (i32.const 24)) (i32.const 23)))
      (local.get $t)
      (local.get $bits)))

  ;; Planes of bytes 3, 2, 1, 0 of every element (for fp32: exponent, high, mid, low).
  (func (export "split32") (param $src i32) (param $exp i32) (param $high i32) (param $mid i32) (param $low i32) (param $groups i32) (param $bits i32)
    (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local $lo01 v128) (local $hi01 v128) (local $lo23 v128) (local $hi23 v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $u0 (call $order32 (v128.load (local.get $src)) (local.get $bits)))
        (local.set $u1 (call $order32 (v128.load offset=16 (local.get $src)) (local.get $bits)))
        (local.set $u2 (call $order32 (v128.load offset=32 (local.get $src)) (local.get $bits)))
        (local.set $u3 (call $order32 (v128.load offset=48 (local.get $src)) (local.get $bits)))
        ;; interleave 32-bit lanes: lo = [a.low, b.low, a.mid, b.mid], hi = [a.high, b.high, a.exp, b.exp]
        (local.set $lo01 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $u0) (local.get $u1)))
        (local.set $hi01 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $u0) (local.get $u1)))
        (local.set $lo23 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $u2) (local.get $u3)))
        (local.set $hi23 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $u2) (local.get $u3)))
        (v128.store (local.get $low) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lo01) (local.get $lo23)))
        (v128.store (local.get $mid) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $lo01) (local.get $lo23)))
        (v128.store (local.get $high) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $hi01) (local.get $hi23)))
        (v128.store (local.get $exp) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $hi01) (local.get $hi23)))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (local.set $exp (i32.add (local.get $exp) (i32.const 16)))
        (local.set $high (i32.add (local.get $high) (i32.const 16)))
        (local.set $mid (i32.add (local.get $mid) (i32.const 16)))
        (local.set $low (i32.add (local.get $low) (i32.const 16)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $next))))

  (func (export "merge32") (param $exp i32) (param $high i32) (param $mid i32) (param $low i32) (param $dst i32) (param $groups i32) (param $bits i32)
    (local $l v128) (local $m v128) (local $h v128) (local $e v128)
    (local $lm v128) (local $he v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $l (v128.load (local.get $low)))
        (local.set $m (v128.load (local.get $mid)))
        (local.set $h (v128.load (local.get $high)))
        (local.set $e (v128.load (local.get $exp)))
        ;; elements 0-7: [low 0-3, mid 0-3, low 4-7, mid 4-7] and [high.., exp..]
        (local.set $lm (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $l) (local.get $m)))
        (local.set $he (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $h) (local.get $e)))
        (v128.store (local.get $dst)
          (call $unorder32 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lm) (local.get $he)) (local.get $bits)))
        (v128.store offset=16 (local.get $dst)
          (call $unorder32 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $lm) (local.get $he)) (local.get $bits)))
        ;; elements 8-15
        (local.set $lm (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $l) (local.get $m)))
        (local.set $he (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $h) (local.get $e)))
        (v128.store offset=32 (local.get $dst)
          (call $unorder32 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lm) (local.get $he)) (local.get $bits)))
        (v128.store offset=48 (local.get $dst)
          (call $unorder32 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $lm) (local.get $he)) (local.get $bits)))
        (local.set $exp (i32.add (local.get $exp) (i32.const 16)))
        (local.set $high (i32.add (local.get $high) (i32.const 16)))
        (local.set $mid (i32.add (local.get $mid) (i32.const 16)))
        (local.set $low (i32.add (local.get $low) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
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

  ;; Fast delta for 16-bit floats: z = zigzag(ulp(next) - ulp(base)) with ulp(w) = w ^ ((w >>s 15) & 0x7fff),
  ;; written as byte planes: lo = z & 0xff, hi = z >> 8 (the order of the plain `bytes2` split).
  (func $ulp16 (param $w v128) (result v128)
    (v128.xor (local.get $w)
      (v128.and (i16x8.shr_s (local.get $w) (i32.const 15)) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))

  (func $zigzag16 (param $base v128) (param $next v128) (result v128)
    (local $r v128)
    (local.set $r (i16x8.sub (call $ulp16 (local.get $next)) (call $ulp16 (local.get $base))))
    (v128.xor (i16x8.shl (local.get $r) (i32.const 1)) (i16x8.shr_s (local.get $r) (i32.const 15))))

  (func (export "ulpSplit16") (param $base i32) (param $next i32) (param $lo i32) (param $hi i32) (param $groups i32)
    (local $a v128) (local $b v128)
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $a (call $zigzag16 (v128.load (local.get $base)) (v128.load (local.get $next))))
        (local.set $b (call $zigzag16 (v128.load offset=16 (local.get $base)) (v128.load offset=16 (local.get $next))))
        (v128.store (local.get $lo)
          (i8x16.narrow_i16x8_u
            (v128.and (local.get $a) (v128.const i16x8 255 255 255 255 255 255 255 255))
            (v128.and (local.get $b) (v128.const i16x8 255 255 255 255 255 255 255 255))))
        (v128.store (local.get $hi)
          (i8x16.narrow_i16x8_u (i16x8.shr_u (local.get $a) (i32.const 8)) (i16x8.shr_u (local.get $b) (i32.const 8))))
        (local.set $base (i32.add (local.get $base) (i32.const 32)))
        (local.set $next (i32.add (local.get $next) (i32.const 32)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 16)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 16)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $step))))

  ;; Inverse: z = hi << 8 | lo; r = (z >>u 1) ^ -(z & 1); v = ulp(base) + r; w = v ^ ((v >>s 15) & 0x7fff).
  (func $unzigzag16 (param $base v128) (param $z v128) (result v128)
    (local $v v128)
    (local.set $v
      (i16x8.add (call $ulp16 (local.get $base))
        (v128.xor (i16x8.shr_u (local.get $z) (i32.const 1))
          (i16x8.neg (v128.and (local.get $z) (v128.const i16x8 1 1 1 1 1 1 1 1))))))
    (call $ulp16 (local.get $v)))

  (func (export "ulpMerge16") (param $base i32) (param $lo i32) (param $hi i32) (param $dst i32) (param $groups i32)
    (local $l v128) (local $h v128)
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $groups)))
        (local.set $l (v128.load (local.get $lo)))
        (local.set $h (v128.load (local.get $hi)))
        (v128.store (local.get $dst)
          (call $unzigzag16 (v128.load (local.get $base))
            (v128.or (i16x8.extend_low_i8x16_u (local.get $l)) (i16x8.shl (i16x8.extend_low_i8x16_u (local.get $h)) (i32.const 8)))))
        (v128.store offset=16 (local.get $dst)
          (call $unzigzag16 (v128.load offset=16 (local.get $base))
            (v128.or (i16x8.extend_high_i8x16_u (local.get $l)) (i16x8.shl (i16x8.extend_high_i8x16_u (local.get $h)) (i32.const 8)))))
        (local.set $base (i32.add (local.get $base) (i32.const 32)))
        (local.set $lo (i32.add (local.get $lo) (i32.const 16)))
        (local.set $hi (i32.add (local.get $hi) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $step))))
)
