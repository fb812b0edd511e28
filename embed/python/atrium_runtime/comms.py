"""A minimal Comm API on xeus's comm manager, compatible with the `comm` package's interface."""
import _atrium


class Comm:
    def __init__(self, target_name="", data=None, metadata=None, buffers=None, comm_id=None,
                 primary=True, **kwargs):
        self.target_name = target_name
        if comm_id is None:
            import uuid

            comm_id = uuid.uuid4().hex
        self.comm_id = comm_id
        self._msg_callback = None
        self._close_callback = None
        self._closed = False
        manager.comms[self.comm_id] = self
        if primary:
            _atrium.comm_open(self.comm_id, target_name, data or {}, metadata or {})

    def send(self, data=None, metadata=None, buffers=None):
        if self._closed:
            raise ValueError(f"comm {self.comm_id} is closed")
        _atrium.comm_send(self.comm_id, data or {}, metadata or {})

    def close(self, data=None, metadata=None, buffers=None, deleting=False):
        if self._closed:
            return
        self._closed = True
        manager.comms.pop(self.comm_id, None)
        _atrium.comm_close(self.comm_id, data or {}, metadata or {})

    def on_msg(self, callback):
        self._msg_callback = callback

    def on_close(self, callback):
        self._close_callback = callback

    def handle_msg(self, msg):
        if self._msg_callback:
            self._msg_callback(msg)

    def handle_close(self, msg):
        self._closed = True
        manager.comms.pop(self.comm_id, None)
        if self._close_callback:
            self._close_callback(msg)


class CommManager:
    def __init__(self):
        self.comms = {}
        self.targets = {}

    def register_target(self, target_name, handler):
        self.targets[target_name] = handler
        _atrium.comm_register_target(target_name)

    def unregister_target(self, target_name, handler=None):
        self.targets.pop(target_name, None)

    def get_comm(self, comm_id):
        return self.comms.get(comm_id)

    # Called by the kernel (C++) when a client opens, messages or closes a comm.
    def _client_open(self, target_name, comm_id, msg):
        handler = self.targets.get(target_name)
        comm = Comm(target_name=target_name, comm_id=comm_id, primary=False)
        if handler is not None:
            handler(comm, msg)

    def _client_msg(self, comm_id, msg):
        comm = self.comms.get(comm_id)
        if comm is not None:
            comm.handle_msg(msg)

    def _client_close(self, comm_id, msg):
        comm = self.comms.get(comm_id)
        if comm is not None:
            comm.handle_close(msg)


manager = CommManager()
