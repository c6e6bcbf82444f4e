// uint64_t pw_test_callee_saved(void (*fn)(void*), void* arg)
//
// Loads a distinct pattern into every callee-saved register, calls fn(arg) (which yields,
// parks and migrates), and returns the OR of (register XOR pattern) over all of them:
// 0 if the context switches in between preserved every callee-saved register.

#if defined(__x86_64__)
        .text
        .globl  pw_test_callee_saved
        .type   pw_test_callee_saved, @function
pw_test_callee_saved:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp                // 16-byte alignment for the call
        movq    %rdi, %rax
        movq    %rsi, %rdi
        movabsq $0x1111111111111111, %rbx
        movabsq $0x2222222222222222, %rbp
        movabsq $0x3333333333333333, %r12
        movabsq $0x4444444444444444, %r13
        movabsq $0x5555555555555555, %r14
        movabsq $0x6666666666666666, %r15
        callq   *%rax
        movabsq $0x1111111111111111, %rax
        xorq    %rbx, %rax
        movabsq $0x2222222222222222, %rcx
        xorq    %rbp, %rcx
        orq     %rcx, %rax
        movabsq $0x3333333333333333, %rcx
        xorq    %r12, %rcx
        orq     %rcx, %rax
        movabsq $0x4444444444444444, %rcx
        xorq    %r13, %rcx
        orq     %rcx, %rax
        movabsq $0x5555555555555555, %rcx
        xorq    %r14, %rcx
        orq     %rcx, %rax
        movabsq $0x6666666666666666, %rcx
        xorq    %r15, %rcx
        orq     %rcx, %rax
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   pw_test_callee_saved, .-pw_test_callee_saved
#endif

#if defined(__aarch64__)
        .text
        .globl  pw_test_callee_saved
        .type   pw_test_callee_saved, %function
pw_test_callee_saved:
        .cfi_startproc
        stp     x29, x30, [sp, #-160]!
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x9, x0
        mov     x0, x1
        mov     x19, #0x1919
        mov     x20, #0x2020
        mov     x21, #0x2121
        mov     x22, #0x2222
        mov     x23, #0x2323
        mov     x24, #0x2424
        mov     x25, #0x2525
        mov     x26, #0x2626
        mov     x27, #0x2727
        mov     x28, #0x2828
        mov     x10, #0x0808
        fmov    d8, x10
        mov     x10, #0x0909
        fmov    d9, x10
        mov     x10, #0x1010
        fmov    d10, x10
        mov     x10, #0x1111
        fmov    d11, x10
        mov     x10, #0x1212
        fmov    d12, x10
        mov     x10, #0x1313
        fmov    d13, x10
        mov     x10, #0x1414
        fmov    d14, x10
        mov     x10, #0x1515
        fmov    d15, x10
        blr     x9
        mov     x0, #0
        mov     x10, #0x1919
        eor     x11, x19, x10
        orr     x0, x0, x11
        mov     x10, #0x2020
        eor     x11, x20, x10
        orr     x0, x0, x11
        mov     x10, #0x2121
        eor     x11, x21, x10
        orr     x0, x0, x11
        mov     x10, #0x2222
        eor     x11, x22, x10
        orr     x0, x0, x11
        mov     x10, #0x2323
        eor     x11, x23, x10
        orr     x0, x0, x11
        mov     x10, #0x2424
        eor     x11, x24, x10
        orr     x0, x0, x11
        mov     x10, #0x2525
        eor     x11, x25, x10
        orr     x0, x0, x11
        mov     x10, #0x2626
        eor     x11, x26, x10
        orr     x0, x0, x11
        mov     x10, #0x2727
        eor     x11, x27, x10
        orr     x0, x0, x11
        mov     x10, #0x2828
        eor     x11, x28, x10
        orr     x0, x0, x11
        fmov    x11, d8
        mov     x10, #0x0808
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d9
        mov     x10, #0x0909
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d10
        mov     x10, #0x1010
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d11
        mov     x10, #0x1111
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d12
        mov     x10, #0x1212
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d13
        mov     x10, #0x1313
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d14
        mov     x10, #0x1414
        eor     x11, x11, x10
        orr     x0, x0, x11
        fmov    x11, d15
        mov     x10, #0x1515
        eor     x11, x11, x10
        orr     x0, x0, x11
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldp     x29, x30, [sp], #160
        ret
        .cfi_endproc
        .size   pw_test_callee_saved, .-pw_test_callee_saved
#endif

        .section .note.GNU-stack,"",%progbits
