#include "textflag.h"

// Constants of GELU: erf's P (p0…p5) and Q (q0…q6) of kernels.go, 1/√2, the clamp ±4, ½.
DATA gelu<>+0(SB)/4, $0x3f906ebb // p0 = 1.128379225730896
DATA gelu<>+4(SB)/4, $0x3e4208bd // p1 = 0.18948645889759064
DATA gelu<>+8(SB)/4, $0x3d5f1347 // p2 = 0.05446174368262291
DATA gelu<>+12(SB)/4, $0x3b824cbb // p3 = 0.003976432140916586
DATA gelu<>+16(SB)/4, $0x39c1bfa6 // p4 = 0.00036954617826268077
DATA gelu<>+20(SB)/4, $0x36b1168b // p5 = 5.277635409584036e-06
DATA gelu<>+24(SB)/4, $0x3f800000 // q0 = 1.0
DATA gelu<>+28(SB)/4, $0x3f0052aa // q1 = 0.5012613534927368
DATA gelu<>+32(SB)/4, $0x3dec3ddd // q2 = 0.11535236984491348
DATA gelu<>+36(SB)/4, $0x3c8046d2 // q3 = 0.015658769756555557
DATA gelu<>+40(SB)/4, $0x3aac83d4 // q4 = 0.0013161846436560154
DATA gelu<>+44(SB)/4, $0x3881618e // q5 = 6.169370317365974e-05
DATA gelu<>+48(SB)/4, $0x343bb526 // q6 = 1.7481633562965726e-07
DATA gelu<>+52(SB)/4, $0x3f3504f3 // invsqrt2 = 0.7071067811865476
DATA gelu<>+56(SB)/4, $0x40800000 // four = 4.0
DATA gelu<>+60(SB)/4, $0xc0800000 // mfour = -4.0
DATA gelu<>+64(SB)/4, $0x3f000000 // half = 0.5
GLOBL gelu<>(SB), RODATA|NOPTR, $68

#define GELU1(off, V, Z, Y, P, Q) \
	VMOVUPS off(SI), V \
	VMULPS Z29, V, Z \
	VMINPS Z30, Z, Z \
	VMAXPS Z31, Z, Z \
	VMULPS Z, Z, Y \
	VMOVAPS Z21, P \
	VFMADD213PS Z20, Y, P \
	VFMADD213PS Z19, Y, P \
	VFMADD213PS Z18, Y, P \
	VFMADD213PS Z17, Y, P \
	VFMADD213PS Z16, Y, P \
	VMOVAPS Z28, Q \
	VFMADD213PS Z27, Y, Q \
	VFMADD213PS Z26, Y, Q \
	VFMADD213PS Z25, Y, Q \
	VFMADD213PS Z24, Y, Q \
	VFMADD213PS Z23, Y, Q \
	VFMADD213PS Z22, Y, Q \
	VMULPS Z, P, P \
	VDIVPS Q, P, P \
	VMULPS Z15, V, V \
	VFMADD213PS V, V, P \
	VMOVUPS P, off(SI)

// func geluAVX512(x *float32, n int)
//
// x[i] = ½x·(1 + erf(x/√2)) for n values, n a multiple of 32: two vectors per iteration.
TEXT ·geluAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $5, CX
	JEQ gdone
	LEAQ gelu<>(SB), AX
	VBROADCASTSS 0(AX), Z16
	VBROADCASTSS 4(AX), Z17
	VBROADCASTSS 8(AX), Z18
	VBROADCASTSS 12(AX), Z19
	VBROADCASTSS 16(AX), Z20
	VBROADCASTSS 20(AX), Z21
	VBROADCASTSS 24(AX), Z22
	VBROADCASTSS 28(AX), Z23
	VBROADCASTSS 32(AX), Z24
	VBROADCASTSS 36(AX), Z25
	VBROADCASTSS 40(AX), Z26
	VBROADCASTSS 44(AX), Z27
	VBROADCASTSS 48(AX), Z28
	VBROADCASTSS 52(AX), Z29
	VBROADCASTSS 56(AX), Z30
	VBROADCASTSS 60(AX), Z31
	VBROADCASTSS 64(AX), Z15

gloop:
	GELU1(0, Z0, Z1, Z2, Z3, Z4)
	GELU1(64, Z5, Z6, Z7, Z8, Z9)
	ADDQ $128, SI
	DECQ CX
	JNE gloop

gdone:
	VZEROUPPER
	RET

// HSUM leaves the sum of the 16 lanes of Z in the low lane of X (Y and X name Z's lower halves),
// using T as scratch.
#define HSUM(Z, Y, X, TY, TX) \
	VEXTRACTF64X4 $1, Z, TY \
	VADDPS TY, Y, Y \
	VEXTRACTF128 $1, Y, TX \
	VADDPS TX, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X

// func layerNormAVX512(x *float32, n int, gain, offset *float32, invN, eps float32)
//
// One row of n values (a multiple of 16) in place: mean, then the mean square of x − mean, then
// (x − mean)·(1/√(var + eps))·gain + offset.
TEXT ·layerNormAVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ gain+16(FP), BX
	MOVQ offset+24(FP), DX
	SHRQ $4, CX
	JEQ ldone

	VXORPS Z0, Z0, Z0
	MOVQ SI, DI
	MOVQ CX, R8
lsum:
	VADDPS (DI), Z0, Z0
	ADDQ $64, DI
	DECQ R8
	JNE lsum
	HSUM(Z0, Y0, X0, Y5, X5)
	VMULSS invN+32(FP), X0, X0
	VBROADCASTSS X0, Z1

	VXORPS Z2, Z2, Z2
	MOVQ SI, DI
	MOVQ CX, R8
lvar:
	VMOVUPS (DI), Z3
	VSUBPS Z1, Z3, Z3
	VFMADD231PS Z3, Z3, Z2
	ADDQ $64, DI
	DECQ R8
	JNE lvar
	HSUM(Z2, Y2, X2, Y5, X5)
	VMULSS invN+32(FP), X2, X2
	VADDSS eps+36(FP), X2, X2
	VSQRTSS X2, X2, X2
	MOVL $0x3f800000, AX
	VMOVD AX, X4
	VDIVSS X2, X4, X4
	VBROADCASTSS X4, Z4

lnorm:
	VMOVUPS (SI), Z3
	VSUBPS Z1, Z3, Z3
	VMULPS Z4, Z3, Z3
	VMOVUPS (BX), Z5
	VFMADD213PS (DX), Z5, Z3
	VMOVUPS Z3, (SI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DX
	DECQ CX
	JNE lnorm

ldone:
	VZEROUPPER
	RET
