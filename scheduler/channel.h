// Channel<T>: Go's channels for goroutines (and plain threads).
//
// A Channel carries values of T from senders to receivers in FIFO order. With capacity 0
// it is unbuffered: a send waits until a receiver takes the value (a rendezvous). With
// capacity N, sends complete at once while fewer than N values are buffered. Closing it
// wakes every waiter; receivers then drain what is buffered and get std::nullopt after.
// Differences from Go: send on a closed channel returns false instead of panicking;
// closing twice is still a fatal error. T must be nothrow-move-constructible (values are
// moved under the channel's internal lock).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "scheduler/check.h"
#include "scheduler/internal/futex.h"
#include "scheduler/internal/waiter.h"
#include "scheduler/thread_annotations.h"

namespace parkway {

template <class T>
class Channel {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "Channel<T> needs a nothrow move constructor");

 public:
  explicit Channel(size_t capacity = 0)
      : cap_(capacity), buf_(capacity ? alloc_.allocate(capacity) : nullptr) {}
  ~Channel() PW_NO_THREAD_SAFETY_ANALYSIS {  // nobody else can hold a dying channel
    while (count_ > 0) std::destroy_at(pop_buffer_slot());
    if (buf_) alloc_.deallocate(buf_, cap_);
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Sends v, waiting while there is no room (or, unbuffered, no receiver). Returns false,
  // and drops v, if the channel is or gets closed first.
  bool send(T v) {
    lock_.lock();
    if (closed_) {
      lock_.unlock();
      return false;
    }
    if (sched::WakeHandle h = deliver_to_receiver(v)) {
      lock_.unlock();
      h.wake();
      return true;
    }
    if (count_ < cap_) {
      push_buffer(std::move(v));
      lock_.unlock();
      return true;
    }
    sched::Waiter w;
    w.slot = &v;
    sendq_.push_back(&w);
    sched::block(&w, &lock_, &sendq_);
    return w.ok;
  }

  // Sends without waiting: returns false (v untouched) if it would wait or is closed.
  bool try_send(T&& v) { return try_send(v); }
  bool try_send(T& v) {
    lock_.lock();
    if (closed_) {
      lock_.unlock();
      return false;
    }
    if (sched::WakeHandle h = deliver_to_receiver(v)) {
      lock_.unlock();
      h.wake();
      return true;
    }
    if (count_ < cap_) {
      push_buffer(std::move(v));
      lock_.unlock();
      return true;
    }
    lock_.unlock();
    return false;
  }

  // Receives the next value, waiting for one; std::nullopt once closed and drained.
  std::optional<T> recv() {
    lock_.lock();
    std::optional<T> out;
    sched::WakeHandle sender;
    if (take(out, sender)) {
      lock_.unlock();
      if (sender) sender.wake();
      return out;
    }
    if (closed_) {
      lock_.unlock();
      return std::nullopt;
    }
    sched::Waiter w;
    w.slot = &out;
    recvq_.push_back(&w);
    sched::block(&w, &lock_, &recvq_);
    return out;
  }

  // Receives without waiting: std::nullopt if nothing is ready.
  std::optional<T> try_recv() {
    lock_.lock();
    std::optional<T> out;
    sched::WakeHandle sender;
    bool got = take(out, sender);
    lock_.unlock();
    if (sender) sender.wake();
    return got ? std::move(out) : std::nullopt;
  }

  // Closes the channel: waiting receivers get std::nullopt, waiting senders false.
  void close() {
    std::vector<sched::WakeHandle> wake;
    {
      sched::SpinGuard g(lock_);
      PW_CHECK(!closed_, "close of a closed parkway::Channel");
      closed_ = true;
      for (sched::WaiterQueue* q : {&recvq_, &sendq_}) {
        while (sched::Waiter* w = q->pop_front()) {
          if (sched::WakeHandle h = w->claim()) {
            w->ok = false;
            wake.push_back(h);
          }
        }
      }
    }
    for (auto& h : wake) h.wake();
  }

  bool closed() const {
    sched::SpinGuard g(lock_);
    return closed_;
  }
  size_t size() const {
    sched::SpinGuard g(lock_);
    return count_;
  }
  size_t capacity() const { return cap_; }

 private:
  // Hands v to a waiting receiver, if any; returns the handle to wake it with once the
  // lock is released (empty if there was none).
  sched::WakeHandle deliver_to_receiver(T& v) PW_REQUIRES(lock_) {
    while (sched::Waiter* r = recvq_.pop_front()) {
      if (sched::WakeHandle h = r->claim()) {
        static_cast<std::optional<T>*>(r->slot)->emplace(std::move(v));
        r->ok = true;
        return h;
      }
    }
    return {};
  }

  // Takes the next value, from the buffer or a waiting sender, into out; returns whether
  // there was one. `sender` is set when a sender must be woken once the lock is released.
  bool take(std::optional<T>& out, sched::WakeHandle& sender) PW_REQUIRES(lock_) {
    while (sched::Waiter* s = sendq_.pop_front()) {
      sched::WakeHandle h = s->claim();
      if (!h) continue;
      T* sv = static_cast<T*>(s->slot);
      if (count_ > 0) {  // full buffer: oldest value out, the sender's value in
        T* head = pop_buffer_slot();
        out.emplace(std::move(*head));
        std::destroy_at(head);
        push_buffer(std::move(*sv));
      } else {  // unbuffered: straight from the sender
        out.emplace(std::move(*sv));
      }
      s->ok = true;
      sender = h;
      return true;
    }
    if (count_ > 0) {
      T* head = pop_buffer_slot();
      out.emplace(std::move(*head));
      std::destroy_at(head);
      return true;
    }
    return false;
  }

  void push_buffer(T&& v) PW_REQUIRES(lock_) {
    std::construct_at(buf_ + (head_ + count_) % cap_, std::move(v));
    count_++;
  }
  T* pop_buffer_slot() PW_REQUIRES(lock_) {
    T* p = buf_ + head_;
    head_ = (head_ + 1) % cap_;
    count_--;
    return p;
  }

  mutable sched::SpinLock lock_;
  std::allocator<T> alloc_;
  const size_t cap_;
  T* const buf_;
  size_t head_ PW_GUARDED_BY(lock_) = 0;
  size_t count_ PW_GUARDED_BY(lock_) = 0;
  bool closed_ PW_GUARDED_BY(lock_) = false;
  // Senders waiting, each Waiter::slot -> its T.
  sched::WaiterQueue sendq_ PW_GUARDED_BY(lock_);
  // Receivers waiting, each Waiter::slot -> a std::optional<T>.
  sched::WaiterQueue recvq_ PW_GUARDED_BY(lock_);
};

}  // namespace parkway
