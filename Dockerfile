# Switchboard: the server and the console/wallboard are bundled with esbuild at image build
# (`npm run build`), and the container runs the server bundle with plain node.
FROM node:20-bookworm-slim

WORKDIR /app

# Runtime dependencies only (esbuild and tsx, which the build needs, are runtime dependencies).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY migrations ./migrations
COPY src ./src
COPY web ./web
COPY scripts ./scripts
RUN npm run build

ENV NODE_ROLE=all PORT=3000 HOST=0.0.0.0
EXPOSE 3000

# No curl in the slim image: use Node's built-in fetch for the liveness probe.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

USER node

# What `npm start` runs after its build (the image is built already, and /app is not the node
# user's to write): the bundle with the memory settings explained in scripts/start.sh.
CMD ["sh", "scripts/start.sh"]
