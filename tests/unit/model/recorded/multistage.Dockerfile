FROM dockerlab/busybox AS build
RUN echo made-in-stage-one > /made.txt
FROM dockerlab/busybox
COPY --from=build /made.txt /made.txt
ENV WHO=me
RUN echo "hello $WHO" && \
    cat /made.txt
CMD cat /made.txt
