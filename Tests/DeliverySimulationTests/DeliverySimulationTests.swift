import Foundation
import Testing
@testable import DeliverySimulation
