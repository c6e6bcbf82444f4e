// Context switch for aarch64, AAPCS64. See internal/context.h.
//
// Saved frame (176 bytes), from the saved stack pointer upward:
//     0  x19 x20    16  x21 x22    32  x23 x24    48  x25 x26    64  x27 x28
//    80  x29 (fp) x30 (lr)
//    96  d8 d9     112  d10 d11   128  d12 d13   144  d14 d15
//   160  FPCR      168  padding
// ctx_make (context.cpp) builds the same frame for a fresh goroutine, with
// x30 = parkway_ctx_trampoline, x19 = entry and x20 = arg.

#if defined(__aarch64__)

        .text
        .globl  parkway_ctx_switch
        .type   parkway_ctx_switch, %function
        .p2align 4
// void parkway_ctx_switch(void** save_sp /* x0 */, void* load_sp /* x1 */)
parkway_ctx_switch:
        .cfi_startproc
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]

        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1

        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .cfi_endproc
        .size   parkway_ctx_switch, .-parkway_ctx_switch

        .globl  parkway_ctx_trampoline
        .type   parkway_ctx_trampoline, %function
        .p2align 4
parkway_ctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30      // the outermost frame: unwinders and debuggers stop here
        mov     x0, x20
        blr     x19
        brk     #0              // entry never returns
        .cfi_endproc
        .size   parkway_ctx_trampoline, .-parkway_ctx_trampoline

#endif

        .section .note.GNU-stack,"",%progbits
