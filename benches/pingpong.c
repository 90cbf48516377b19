/* The workload of `cargo bench --bench run`: a server and its client (two processes, by
 * fork) make N round trips on one loopback TCP connection, the client writing 16 bytes and
 * reading 16, the server reading 16 and writing 16: four socket calls a round trip.
 *
 * Usage: pingpong [N]   (default 20000) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEN 16

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* Reads exactly LEN bytes: a stream may hand them over in pieces. */
static void read_all(int fd, char *buf) {
    size_t got = 0;
    while (got < LEN) {
        ssize_t n = read(fd, buf + got, LEN - got);
        if (n <= 0)
            die("read");
        got += (size_t)n;
    }
}

/* Each write leaves at once: no Nagle wait, whatever the ACK timing. */
static void no_delay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
        die("setsockopt");
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 20000;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    char buf[LEN] = "ping pong ping!";

    /* Port 0: the kernel picks a free one, which the client learns from getsockname. */
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1) ||
        getsockname(listener, (struct sockaddr *)&addr, &len))
        die("listen");
    pid_t client = fork();
    if (client < 0)
        die("fork");
    if (client == 0) {
        close(listener);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr))
            die("connect");
        no_delay(fd);
        for (long i = 0; i < rounds; i++) {
            if (write(fd, buf, LEN) != LEN)
                die("write");
            read_all(fd, buf);
        }
        close(fd);
        return 0;
    }
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        die("accept");
    no_delay(fd);
    for (long i = 0; i < rounds; i++) {
        read_all(fd, buf);
        if (write(fd, buf, LEN) != LEN)
            die("write");
    }
    close(fd);
    close(listener);
    int status;
    if (waitpid(client, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "pingpong: the client failed\n");
        return 1;
    }
    return 0;
}
