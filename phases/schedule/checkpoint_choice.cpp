#include "phases/schedule/checkpoint_choice.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "checkpoint/training_checkpoint.h"
#include "runtime/log.h"

extern char** environ;

namespace pouch {

namespace {

std::string& verifier_executable() {
  static std::string path;
  return path;
}

bool verify_here(const std::string& file, std::string* why) {
  try {
    verify_checkpoint_file(file);
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

bool launcher_variable(const char* entry) {
  for (const char* prefix : {"OMPI_", "PMIX_", "PMI_", "SLURM_", "POUCH_FAULT="})
    if (std::strncmp(entry, prefix, std::strlen(prefix)) == 0) return true;
  return false;
}

}  // namespace

void set_checkpoint_verifier_executable(std::string path) { verifier_executable() = std::move(path); }

bool verify_in_child_process(const std::string& file, std::string* why) {
  if (verifier_executable().empty()) return verify_here(file, why);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e)
    if (!launcher_variable(*e)) env_store.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);

  char log_template[] = "/tmp/pouch-verify-XXXXXX";
  const int log_fd = mkstemp(log_template);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (log_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
  }
  std::string self = verifier_executable(), cmd = "pouch", ckpt = "ckpt", verify = "verify", path = file;
  char* argv[] = {cmd.data(), ckpt.data(), verify.data(), path.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (log_fd >= 0) close(log_fd);
  auto output = [&] {
    std::ifstream in(log_template);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  };
  if (rc != 0) {
    unlink(log_template);
    if (why) *why = fmt::format("could not start the verifier: {}", std::strerror(rc));
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string said = output();
  unlink(log_template);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  if (why) {
    *why = WIFSIGNALED(status)
               ? fmt::format("reading it crashed the verifier (signal {}): the file is damaged", WTERMSIG(status))
               : said;
  }
  return false;
}

std::optional<FoundCheckpoint> newest_verified_checkpoint(const std::string& dir) {
  const std::vector<FoundCheckpoint> all = list_checkpoints(dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::string why;
    if (verify_in_child_process(it->file, &why)) return *it;
    log_warn("skipping checkpoint {}: {}", it->file, why);
  }
  return std::nullopt;
}

}  // namespace pouch
