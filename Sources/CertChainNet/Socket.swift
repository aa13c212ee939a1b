import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from the socket layer.
public enum NetError: Error, Equatable, Sendable {
    /// The host name could not be resolved to an IPv4 address.
    case badAddress(String)
    /// A system call failed with the given errno.
    case system(String, Int32)
    /// The operation did not finish in time.
    case timeout
    /// The peer closed the connection.
    case closed
    /// The peer sent bytes that do not follow the protocol.
    case protocolViolation(String)
}

/// Result of a bounded read.
enum ReadResult {
    case data(Int)
    case eof
    case timeout
    case failed
}

/// Thin POSIX socket helpers (IPv4, blocking sockets driven by poll with timeouts).
enum Sock {
    /// Makes writes to a closed socket return EPIPE instead of killing the process.
    static let ignoreSigpipe: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    static func resolve(_ host: String, _ port: UInt16) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        let h = (host == "localhost" || host.isEmpty) ? "127.0.0.1" : host
        if inet_pton(AF_INET, h, &addr.sin_addr) == 1 { return addr }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(h, nil, &hints, &res) == 0, let first = res, let sa = first.pointee.ai_addr else {
            throw NetError.badAddress(host)
        }
        defer { freeaddrinfo(res) }
        sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addr.sin_addr = $0.pointee.sin_addr }
        return addr
    }

    static func newTCPSocket() throws -> Int32 {
        _ = ignoreSigpipe
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        if fd < 0 { throw NetError.system("socket", errno) }
        return fd
    }

    /// Creates a listening socket; returns the fd and the bound port.
    static func listen(host: String, port: UInt16, backlog: Int32 = 128) throws -> (Int32, UInt16) {
        var addr = try resolve(host, port)
        let fd = try newTCPSocket()
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw NetError.system("bind", e)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = errno
            close(fd)
            throw NetError.system("listen", e)
        }
        return (fd, boundPort(fd))
    }

    static func boundPort(_ fd: Int32) -> UInt16 {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// Waits up to `timeoutMs` for a connection; returns the accepted fd or nil.
    static func accept(_ listenFd: Int32, timeoutMs: Int32) -> Int32? {
        guard pollIn(listenFd, timeoutMs: timeoutMs) else { return nil }
        let fd = Glibc.accept(listenFd, nil, nil)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Connects with a timeout; the returned socket is blocking with TCP_NODELAY and a send timeout.
    static func connect(host: String, port: UInt16, timeoutMs: Int32) throws -> Int32 {
        var addr = try resolve(host, port)
        let fd = try newTCPSocket()
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let e = errno
            guard e == EINPROGRESS else { close(fd); throw NetError.system("connect", e) }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = poll(&pfd, 1, timeoutMs)
            if n <= 0 { close(fd); throw NetError.timeout }
            var soErr: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soErr, &len)
            if soErr != 0 { close(fd); throw NetError.system("connect", soErr) }
        }
        _ = fcntl(fd, F_SETFL, flags)
        configure(fd, sendTimeoutMs: 5000)
        return fd
    }

    /// Sets TCP_NODELAY and a send timeout so a stuck peer cannot block a writer forever.
    static func configure(_ fd: Int32, sendTimeoutMs: Int) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: sendTimeoutMs / 1000, tv_usec: (sendTimeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// True if `fd` is readable (or hung up) within `timeoutMs`.
    static func pollIn(_ fd: Int32, timeoutMs: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&pfd, 1, timeoutMs)
        return n > 0
    }

    /// Reads up to `buffer.count` bytes, waiting at most `timeoutMs`.
    static func read(_ fd: Int32, into buffer: inout [UInt8], timeoutMs: Int32) -> ReadResult {
        guard pollIn(fd, timeoutMs: timeoutMs) else { return .timeout }
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { return .data(n) }
        if n == 0 { return .eof }
        return (errno == EAGAIN || errno == EINTR) ? .timeout : .failed
    }

    /// Writes all bytes (bounded by the socket's send timeout); false on failure.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        var stalls = 0
        // Bounded: each pass either advances or counts a stall (send timeout per stall).
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                offset += n
                stalls = 0
            } else if n < 0 && errno == EINTR && stalls < 100 {
                stalls += 1
            } else {
                return false
            }
        }
        return true
    }

    /// Wakes any thread blocked on `fd` without releasing the descriptor number.
    static func shutdownBoth(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    static func closeFd(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}

/// Monotonic clock in milliseconds.
func monotonicMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Runs `body` on a new thread registered in `group`.
func spawnThread(_ group: DispatchGroup, name: String, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    let t = Thread {
        body()
        group.leave()
    }
    t.name = name
    t.stackSize = 512 << 10
    t.start()
}
