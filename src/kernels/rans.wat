;; The rANS coder's hot loops: ransEncode, ransDecode and maxByte (the check of a context map),
;; called from src/codec/rans.ts.

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
