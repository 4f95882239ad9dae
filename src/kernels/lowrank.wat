;; The strong delta's low-rank sign model: signs16 (residual signs), rowDots, subspaceMultiply,
;; subspaceMultiplyT and sampleStats (fitting), lowRank16 (context values), called from
;; src/delta/lowrank.ts and src/delta/passes16.ts.

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
