;; Byte-plane kernels: split16/merge16 (16-bit float bit planes), split32/merge32 (fp32 bit planes
;; and plain 4-byte planes), split2/merge2 (plain 2-byte planes), in whole groups of 16 elements.
;; Called from src/codec/simd-planes.ts, which finishes any remainder with the plain-TS code of
;; src/codec/planes.ts; layouts in docs/FORMAT.md.

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
