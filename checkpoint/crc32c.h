// crc32c.h: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
// checkpoint record and header, computed in software with slicing-by-8 tables (no CPU
// extension needed). crc32c("123456789") == 0xE3069283.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sepal::checkpoint {

// Continues a running CRC: crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b). Start from 0.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace sepal::checkpoint
