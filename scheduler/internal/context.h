// The context switch: the only code in parkway that changes the stack pointer.
//
// A switch saves what the ABI says a called function must preserve, and nothing more:
// the callee-saved general registers, the stack pointer and the floating-point control
// state (MXCSR and the x87 control word on x86-64; FPCR on aarch64). Everything else is
// caller-saved, so the compiler has already spilled it around the call. The saved state
// lives on the stack being left; a context is just the stack pointer that points at it.
// See context_x86_64.S and context_aarch64.S. (ucontext is never used: swapcontext makes a
// sigprocmask system call on every switch.)
#pragma once

namespace parkway::sched {

extern "C" {
// Saves the current context on the current stack, stores the stack pointer in *save_sp,
// then loads load_sp and resumes the context saved there. Returns when something
// switches back to *save_sp.
void parkway_ctx_switch(void** save_sp, void* load_sp);
}

// Prepares a fresh context on the stack whose highest usable address is stack_top, such
// that switching to the returned stack pointer calls entry(arg) on that stack. entry must
// never return (a goroutine leaves its stack by switching away for the last time).
void* ctx_make(void* stack_top, void (*entry)(void*), void* arg);

}  // namespace parkway::sched
