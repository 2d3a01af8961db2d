# Keycloak with our user storage provider. Build from the repository root:
#   docker build -f docker/keycloak.Dockerfile -t identity-keycloak .
# The Keycloak version must match keycloak.version in keycloak_bridge/provider/pom.xml.
FROM maven:3.9-eclipse-temurin-17 AS provider
WORKDIR /build
COPY keycloak_bridge/provider/pom.xml pom.xml
COPY keycloak_bridge/provider/src src
RUN mvn -q -B package

FROM quay.io/keycloak/keycloak:26.5.4
COPY --from=provider /build/target/identity-backend-keycloak-provider.jar /opt/keycloak/providers/
RUN /opt/keycloak/bin/kc.sh build --db=postgres --cache=ispn --health-enabled=true
ENTRYPOINT ["/opt/keycloak/bin/kc.sh"]
CMD ["start", "--optimized"]
