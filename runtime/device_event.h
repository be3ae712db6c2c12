#pragma once
// A point in a backend's stream of work (Backend::record_event). It completes
// when everything enqueued on that stream before it has run. On the CPU
// backend work is synchronous, so an event is complete when it is made and
// carries only a steady_clock stamp; on a device it is the device's event
// (cudaEvent_t on CUDA). Events are compared only with events of the backend
// that recorded them (Backend::elapsed_s, Backend::wait_event).
namespace pouch {

class DeviceEvent {
 public:
  virtual ~DeviceEvent() = default;
  // Whether the work before the event has completed. Never blocks the host.
  virtual bool query() const = 0;
  // Blocks the host until the event completes; counts as one host sync of the
  // backend that recorded it (Backend::host_syncs).
  virtual void synchronize() = 0;
};

}  // namespace pouch
