// Context switch for x86-64, System V ABI. See internal/context.h.
//
// Saved frame, from the saved stack pointer upward:
//    0  x87 control word (2 bytes, padded to 8)
//    8  MXCSR (4 bytes, padded to 8)
//   16  r15     24  r14     32  r13     40  r12     48  rbx     56  rbp
//   64  return address
// ctx_make (context.cpp) builds the same frame by hand for a fresh goroutine, with the
// return address pointing at parkway_ctx_trampoline, rbx = entry and r12 = arg.

#if defined(__x86_64__)

#if defined(__CET__)
#define LANDING_PAD endbr64
#else
#define LANDING_PAD
#endif

        .text
        .globl  parkway_ctx_switch
        .type   parkway_ctx_switch, @function
        .p2align 4
// void parkway_ctx_switch(void** save_sp /* rdi */, void* load_sp /* rsi */)
parkway_ctx_switch:
        .cfi_startproc
        LANDING_PAD
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $16, %rsp
        stmxcsr 8(%rsp)
        fnstcw  (%rsp)

        movq    %rsp, (%rdi)
        movq    %rsi, %rsp

        ldmxcsr 8(%rsp)
        fldcw   (%rsp)
        addq    $16, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   parkway_ctx_switch, .-parkway_ctx_switch

        .globl  parkway_ctx_trampoline
        .type   parkway_ctx_trampoline, @function
        .p2align 4
// First code a fresh context runs: rsp is 16-byte aligned here, so the call below enters
// entry(arg) with the alignment the ABI requires.
parkway_ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip      // the outermost frame: unwinders and debuggers stop here
        movq    %r12, %rdi
        callq   *%rbx
        ud2                     // entry never returns
        .cfi_endproc
        .size   parkway_ctx_trampoline, .-parkway_ctx_trampoline

#endif

        .section .note.GNU-stack,"",@progbits
