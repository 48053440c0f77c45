import Hummingbird
import HummingbirdBcrypt
import Crypto
import TOMLKit
import Prometheus
import ServiceLifecycle
